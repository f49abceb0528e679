"""Refuse to run production on weak settings: one line per problem, no value shown.

Used twice: by config/settings/production.py, so no process starts on a weak setting
whatever starts it, and by the production image's entrypoint (`python -m
config.secrets NAME...`), which also requires the names it is given and runs before
PostgreSQL, RabbitMQ and Redis first store their passwords. Django's own deploy check
only warns about a weak SECRET_KEY (W009).
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
    "REDIS_PASSWORD": 16,
    "FLOWER_PASSWORD": 16,
}
# What production.py requires of every process; the entrypoint names more.
REQUIRED = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
# URLs of servers: each must carry a password of MIN_PASSWORD characters, unless the
# server is on this host, on its loopback interface or a Unix socket (a bare-metal
# install), or in the process (memory://).
URLS_WITH_PASSWORDS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "FLOWER_BROKER_API",
)
MIN_PASSWORD = 16
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
PLACEHOLDER = "change-me-"


def problems(environ, required=REQUIRED):
    """What is wrong with these settings, one line each, naming the variable only."""
    found = [f"{name} is not set" for name in required if not environ.get(name, "").strip()]
    for name, value in sorted(environ.items()):
        if PLACEHOLDER in value:
            found.append(f"{name} still holds a {PLACEHOLDER}... placeholder")
        elif name in MIN_LENGTH and value and len(value) < MIN_LENGTH[name]:
            found.append(f"{name} is shorter than {MIN_LENGTH[name]} characters")
        elif name in MIN_LENGTH and value and len(set(value)) < 5:
            found.append(f"{name} has fewer than 5 different characters")
        elif name in URLS_WITH_PASSWORDS and "://" in value and weak_url(value):
            found.append(f"{name} has no password of at least {MIN_PASSWORD} characters")
    return found


def weak_url(url):
    # A broker URL may list several servers separated by ";" (kombu's failover).
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        remote = parts.hostname and parts.hostname not in LOOPBACK
        if remote and len(parts.password or "") < MIN_PASSWORD:
            return True
    return False


def refuse_weak_settings(environ=os.environ):
    from django.core.exceptions import ImproperlyConfigured

    found = problems(environ)
    if found:
        raise ImproperlyConfigured("Weak production settings:\n  - " + "\n  - ".join(found))


def main(required):
    found = problems(os.environ, required=required)
    if found:
        print("Refusing to start: the production settings are not complete.", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "Set real values in the .env.production files (the .example files list them).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
