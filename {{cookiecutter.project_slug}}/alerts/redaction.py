"""Hide secrets and personal data in what an alert carries out of the project.

`redact()` walks task arguments: a dict value whose key names a secret (SECRET_WORDS,
case-insensitive, at any depth) is replaced, and every string goes through
`redact_text()`. That hides URL credentials, secret query or form parameters and
Authorization values in any text: exception messages, tracebacks, errors. Positional
arguments carry no names, so pass secrets by keyword, or better, pass an id.
"""

import re

SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "session",
    "cookie",
    "jwt",
    "signature",
    "card",
)
REDACTED = "[redacted]"
_SECRET = "|".join(SECRET_WORDS)
TEXT_PATTERNS = [
    # scheme://user:password@host and scheme://:password@host
    re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I),
    # ?api_key=..., &access_token=..., password=... in a query string or form body
    re.compile(rf"(?P<keep>\b[\w.-]*(?:{_SECRET})[\w.-]*=)[^&\s'\"]+", re.I),
    # Authorization: Bearer ..., Basic ..., Token ...
    re.compile(r"(?P<keep>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def is_secret_name(name):
    lowered = str(name).lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact_text(text):
    for pattern in TEXT_PATTERNS:
        text = pattern.sub(rf"\g<keep>{REDACTED}", text)
    return text


def hide_emails(text):
    """For channels outside the project: e-mail addresses are personal data."""
    return EMAIL.sub("[e-mail]", text)


def redact(value):
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(key) else redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
