"""Settings for the test suite.

Tests talk to the same kinds of servers as production (PostgreSQL, the broker, Redis),
taken from the environment, so that a test passing means the real thing works.
"""

from .env_file import read_env_file

read_env_file()  # before base.py reads the environment

from .base import *  # noqa: E402, F403

# Hashing passwords slowly is a feature in production and a cost in tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Close each connection after use: a test worker thread must not keep one open to the
# test database, or it cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
