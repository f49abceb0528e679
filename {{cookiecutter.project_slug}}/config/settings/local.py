"""Development settings: debug pages on, e-mail to Mailpit (compose sets EMAIL_URL)."""

from .env_file import read_env_file

read_env_file()  # before base.py reads the environment

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "0.0.0.0"])
# Linked from the welcome page: the mail catcher of the local compose stack.
MAILPIT_URL = env("MAILPIT_URL", default="http://localhost:8025")
