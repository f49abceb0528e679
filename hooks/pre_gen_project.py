"""Reject bad template options before anything is generated.

Each validator checks one option and returns a message that says what to type instead,
or None. Cookiecutter removes the half-made project directory when this hook exits
non-zero, so a rejected option leaves nothing on disk.
"""

import json
import keyword
import re
import sys
import zoneinfo

# Names the generated project imports: its own top-level packages and modules (examples
# holds the example apps), the packages its requirements install, and Python's own test
# package. A project of the same name could be taken for one of them, by `import` or by
# pip (pyproject.toml names the project after its slug).
# tests/test_hooks.py checks this set against the template's tree and its pins.
RESERVED_SLUGS = {
    # the project's own
    "alerts",
    "background",
    "catalog",
    "config",
    "conftest",
    "examples",
    "health",
    "manage",
    "newsletter",
    "orders",
    "outbox",
    "reports",
    "rewards",
    "scheduling",
    "users",
    "welcome",
    # installed by requirements/*.txt
    "aiosmtpd",
    "celery",
    "django",
    "django_celery_beat",
    "django_celery_results",
    "environ",
    "ephem",
    "flower",
    "gunicorn",
    "kombu",
    "psycopg",
    "py",
    "pytest",
    "pytest_django",
    "redis",
    "requests",
    "ruff",
    "sentry_sdk",
    "watchfiles",
    "whitenoise",
    # CPython's regression tests, and the usual name of a test package
    "test",
    "tests",
}
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CHOICES = {
    "broker": ("rabbitmq", "redis"),
    "result_backend": ("django-db", "redis"),
    "use_sentry": ("y", "n"),
    "include_examples": ("y", "n"),
}


def check_project_name(name):
    if not name.strip():
        return "project_name is empty: give the project a name, e.g. project_name='My Site'."
    return None


def check_slug(slug):
    suggestion = re.sub(r"[^a-z0-9_]", "_", slug.lower()).strip("_") or "my_site"
    if suggestion[0].isdigit():
        suggestion = f"site_{suggestion}"
    if not SLUG_PATTERN.match(slug):
        return (
            f"project_slug {slug!r} is not a lower-case Python identifier "
            f"(letters, digits and _, starting with a letter): try project_slug={suggestion!r}."
        )
    if keyword.iskeyword(slug) or slug in RESERVED_SLUGS or slug in sys.stdlib_module_names:
        return (
            f"project_slug {slug!r} clashes with a Python keyword or a module the project "
            f"imports: try project_slug={slug + '_site'!r}."
        )
    return None


def check_email(email):
    if not EMAIL_PATTERN.match(email):
        return f"email {email!r} is not an e-mail address: try email='you@example.com'."
    return None


def check_domain(domain):
    # Case-insensitive, as domain names are; the generated files write it lower-cased.
    if not DOMAIN_PATTERN.match(domain.lower()):
        return f"domain_name {domain!r} is not a domain name: try domain_name='example.com'."
    return None


def check_timezone(name):
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return (
            f"timezone {name!r} is not a known IANA time zone: "
            "try timezone='UTC' or a name such as 'Europe/Paris'."
        )
    return None


def check_choice(option, value):
    allowed = CHOICES[option]
    if value not in allowed:
        return (
            f"{option} {value!r} is not one of {', '.join(allowed)}: try {option}={allowed[0]!r}."
        )
    return None


def problems(options):
    """All messages for the given options, in the order the options are asked."""
    found = [
        check_project_name(options["project_name"]),
        check_slug(options["project_slug"]),
        check_email(options["email"]),
        check_domain(options["domain_name"]),
        check_timezone(options["timezone"]),
    ]
    found += [check_choice(option, options[option]) for option in CHOICES if option in options]
    return [message for message in found if message]


def main():
    # Cookiecutter renders this file with Jinja before running it.
    options = json.loads(r"""{{ cookiecutter | jsonify }}""")
    messages = problems(options)
    for message in messages:
        print(f"ERROR: {message}", file=sys.stderr)
    return 1 if messages else 0


if __name__ == "__main__":
    sys.exit(main())
