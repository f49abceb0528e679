"""Refuse to run production on weak settings: one line per problem, no value shown.

Used twice: by config/settings/production.py, so no process starts on a weak setting
whatever starts it, and by the production image's entrypoint (`python -m
config.secrets`), which checks every secret before PostgreSQL and the broker first store
theirs. Django's own deploy check only warns about a weak SECRET_KEY (W009).
https://docs.djangoproject.com/en/5.2/ref/checks/#security
"""

import os
import sys
from urllib.parse import urlsplit

# Shortest accepted length of each secret, where it is set. 50 is what Django's deploy
# check asks of SECRET_KEY; 16 random characters are beyond guessing for a password.
MIN_LENGTH = {
    "DJANGO_SECRET_KEY": 50,
    "POSTGRES_PASSWORD": 16,
    "RABBITMQ_DEFAULT_PASS": 16,
    "RABBITMQ_APP_PASSWORD": 16,
    "REDIS_PASSWORD": 16,
    "FLOWER_PASSWORD": 16,
}
# Settings that must be set and not empty for the Django processes.
REQUIRED = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
# URLs that reach a server: each must carry a password of MIN_PASSWORD characters.
URLS_WITH_PASSWORDS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "FLOWER_BROKER_API",
)
MIN_PASSWORD = 16
PLACEHOLDER = "change-me-"


def problems(environ, required=REQUIRED):
    found = [f"{name} is not set" for name in required if not environ.get(name, "").strip()]
    for name, value in sorted(environ.items()):
        if PLACEHOLDER in value:
            found.append(f"{name} still holds a {PLACEHOLDER}... placeholder")
        elif name in MIN_LENGTH and value and len(value) < MIN_LENGTH[name]:
            found.append(f"{name} is shorter than {MIN_LENGTH[name]} characters")
        elif name in MIN_LENGTH and value and len(set(value)) < 5:
            found.append(f"{name} has fewer than 5 different characters")
        elif name in URLS_WITH_PASSWORDS and value and "://" in value:
            password = urlsplit(value).password or ""
            if len(password) < MIN_PASSWORD:
                found.append(f"{name} has no password of at least {MIN_PASSWORD} characters")
    return found


def refuse_weak_settings(environ=os.environ):
    from django.core.exceptions import ImproperlyConfigured

    found = problems(environ)
    if found:
        raise ImproperlyConfigured("Weak production settings:\n" + "\n".join(found))


def main():
    found = problems(os.environ, required=sys.argv[1:])
    if found:
        print("Refusing to start: the production settings are not complete.", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print("Set real values in .env.production (.env.production.example lists them).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
