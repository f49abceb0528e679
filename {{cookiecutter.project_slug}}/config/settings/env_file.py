"""Development and test settings read an env file, so that the site also runs without
Docker: `.env` by default, or the file DJANGO_ENV_FILE names (`.env.native`, whose servers
are on 127.0.0.1; README: Run it without Docker). A variable already set in the
environment wins, as compose's are. Production settings read no file.
https://django-environ.readthedocs.io/en/latest/tips.html#multiple-env-files
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def read_env_file():
    path = BASE_DIR / os.environ.get("DJANGO_ENV_FILE", ".env")
    if path.is_file():
        environ.Env.read_env(path)
