"""Add the current task's name, id and retry count to every log record.

With it, any log line written while a task runs, by the task or by a library it calls,
says which task and which attempt it came from, without the task author doing anything.
config/settings/base.py installs it on the console handler.
"""

import logging

from celery import current_task


class TaskContextFilter(logging.Filter):
    def filter(self, record):
        task = current_task
        request = getattr(task, "request", None) if task else None
        if request is not None and request.id:
            record.task = f"[{task.name}[{request.id}] retry {request.retries}] "
        else:
            record.task = ""
        return True
