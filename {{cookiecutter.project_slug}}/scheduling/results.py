"""Where task results live, and sending a stored task again with its recorded arguments.

CELERY_RESULT_BACKEND is "django-db" (results in PostgreSQL, in the admin) or a redis://
URL (results in Redis, not in the admin): the pages that show results ask here.
"""

import ast
import json

from celery import current_app
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


def resend(result) -> str:
    """Send the task of a stored result again, with the same arguments; return the new id.

    Raises ValueError when the task is unknown here or its arguments cannot be read back.
    """
    current_app.loader.import_default_modules()
    task = current_app.tasks.get(result.task_name)
    if task is None:
        raise ValueError(f"no task named {result.task_name!r} is registered")
    args, kwargs = recorded_arguments(result)
    # Keep the periodic task's name, so that a re-run shows on the beat-status page.
    headers = {"periodic_task_name": result.periodic_task_name} if result.periodic_task_name else {}
    return task.apply_async(args=args, kwargs=kwargs, headers=headers).id


def _literal(stored, empty):
    if stored is None:
        raise ValueError("no arguments were recorded (CELERY_RESULT_EXTENDED is off?)")
    value = json.loads(stored) if stored else empty
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            shown = value[:80]
            raise ValueError(f"the recorded arguments {shown!r} cannot be read back") from error
    return value
