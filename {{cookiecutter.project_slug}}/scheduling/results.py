"""Where task results live, and the arguments a stored result recorded.

CELERY_RESULT_BACKEND is "django-db" (results in PostgreSQL, in the admin) or a redis://
URL (results in Redis, not in the admin): the pages that show results ask here.
"""

import ast
import json

from django.conf import settings


def results_in_database() -> bool:
    return settings.CELERY_RESULT_BACKEND == "django-db"


def recorded_arguments(result) -> tuple[list, dict]:
    """The args and kwargs a TaskResult recorded (CELERY_RESULT_EXTENDED stores them).

    Celery records them as repr() strings (`argsrepr`, `kwargsrepr`), shortened past
    1024 characters; for the JSON values this project's tasks take, that repr reads back
    as Python literals. Raises ValueError when the record cannot give the arguments back
    exactly: it was shortened, masked by the sender, or never recorded.
    """
    args = _literal(result.task_args, "()")
    kwargs = _literal(result.task_kwargs, "{}")
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        raise ValueError("the recorded arguments are not a list and a dict")
    return list(args), kwargs


def _literal(stored, empty):
    if stored is None:
        raise ValueError("no arguments were recorded (CELERY_RESULT_EXTENDED is off?)")
    value = json.loads(stored) if stored else empty
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"the recorded arguments {value[:80]!r} cannot be read back") from error
    return value
