"""Hide secrets in task arguments before they leave the worker in an alert.

The rule: in any dict, at any depth, the value of a key whose name contains one of
SECRET_WORDS (case-insensitive) becomes "[redacted]"; and in any string, the password
of a URL (scheme://user:password@host) becomes "[redacted]". Positional arguments
carry no names, so pass secrets as keyword arguments, or better, not at all: pass an
id and let the task look the secret up.
"""

import re

SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "authorization", "cookie", "card")
REDACTED = "[redacted]"
URL_PASSWORD = re.compile(r"(?P<prefix>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)", re.I)


def is_secret_name(name):
    lowered = str(name).lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact(value):
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(key) else redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return URL_PASSWORD.sub(rf"\g<prefix>{REDACTED}", value)
    return value
