"""What an alert says: a title, a body, and a kind used to group identical ones."""

from dataclasses import dataclass, replace

from django.conf import settings
from django.utils import timezone

from .redaction import redact, redact_text


@dataclass(frozen=True)
class Alert:
    kind: str
    title: str
    body: str
    # The task's arguments, kept apart: e-mailed to the admins, and sent to the webhook
    # (a third party) only when ALERTS_WEBHOOK_ARGUMENTS is on.
    arguments: str = ""

    def redacted(self):
        """The same alert with secrets hidden in every field (redaction.redact_text)."""
        return replace(
            self,
            title=redact_text(self.title),
            body=redact_text(self.body),
            arguments=redact_text(self.arguments),
        )

    def text(self, with_arguments=True):
        if with_arguments and self.arguments:
            return f"{self.body}\n\n{self.arguments}"
        return self.body


def argument_lines(args, kwargs):
    return f"Arguments: {redact(list(args or []))!r}\nKeywords:  {redact(dict(kwargs or {}))!r}"


def task_failure(task, task_id, args, kwargs, exc, einfo):
    """Everything a person needs to act on a task that failed for good."""
    delivery_info = getattr(task.request, "delivery_info", None) or {}
    lines = [
        f"Task:      {task.name}",
        f"Id:        {task_id}",
        f"Queue:     {delivery_info.get('routing_key', 'unknown')}",
        f"Exception: {type(exc).__name__}: {exc}",
        f"Time:      {timezone.localtime():%Y-%m-%d %H:%M:%S %Z}",
        f"Retries:   {task.request.retries} of {task.max_retries}",
        "",
        f"Flower:    {settings.FLOWER_URL.rstrip('/')}/task/{task_id}",
    ]
    if settings.CELERY_RESULT_BACKEND == "django-db":
        lines.append(
            f"Result:    {settings.SITE_URL.rstrip('/')}"
            f"/admin/django_celery_results/taskresult/?task_id={task_id}"
        )
    lines += ["", "Traceback:", str(einfo.traceback if einfo else "")]
    return Alert(
        kind=f"task:{task.name}:{type(exc).__name__}",
        title=f"Task {task.name} failed: {type(exc).__name__}",
        body="\n".join(lines),
        arguments=argument_lines(args, kwargs),
    )


def deep_queue(name, length, threshold, since):
    return Alert(
        kind=f"queue:{name}",
        title=f"Queue {name} holds {length} messages",
        body=(
            f"Queue {name} has held more than {threshold} messages since "
            f"{timezone.localtime(since):%H:%M:%S %Z}; it now holds {length}.\n"
            "Its workers are not keeping up: add worker processes, or find what slows them."
        ),
    )
