"""Task results in the admin, with a re-send action for failed tasks.

It replaces django-celery-results' own TaskResultAdmin to show a result's arguments,
value and traceback readably, and to re-send failures. Only tasks declared with
ignore_result=False store a result (CELERY_TASK_IGNORE_RESULT is True). With a Redis
result backend nothing reaches this table, and the list says where the results are.
"""

import json

from celery import current_app, states
from celery.utils.time import maybe_timedelta
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timeuntil
from django_celery_results.admin import TaskResultAdmin
from django_celery_results.models import TaskResult
from kombu.exceptions import OperationalError

from ..results import resend, results_in_database

SHOWN_AS_TEXT = ("arguments", "result_value", "traceback_text")

admin.site.unregister(TaskResult)


@admin.register(TaskResult)
class ResultAdmin(TaskResultAdmin):
    list_display = (
        "task_name",
        "periodic_task_name",
        "state",
        "date_created",
        "date_done",
        "worker",
        "task_id",
    )
    list_filter = ("status", "task_name", "periodic_task_name", "date_done", "worker")
    actions = ["resend_failed"]
    fieldsets = (
        (None, {"fields": ("task_id", "task_name", "periodic_task_name", "status", "worker")}),
        ("Arguments", {"fields": ("arguments",)}),
        (
            "Result",
            {
                "fields": (
                    "result_value",
                    "traceback_text",
                    "date_created",
                    "date_started",
                    "date_done",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        # Results are records of what happened: nothing here is editable.
        return [field.name for field in self.opts.local_fields] + list(SHOWN_AS_TEXT)

    def changelist_view(self, request, extra_context=None):
        now = timezone.now()
        expires = maybe_timedelta(current_app.conf.result_expires)
        extra_context = {
            **(extra_context or {}),
            "results_in_database": results_in_database(),
            "results_kept_for": timeuntil(now + expires, now) if expires else "",
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="state", ordering="status")
    def state(self, result):
        return format_html(
            '<span class="task-state {}">{}</span>', result.status.lower(), result.status
        )

    @admin.display(description="arguments (as recorded)")
    def arguments(self, result):
        return _pre(f"args: {_text(result.task_args)}\nkwargs: {_text(result.task_kwargs)}")

    @admin.display(description="result")
    def result_value(self, result):
        return _pre(result.result or "")

    @admin.display(description="traceback")
    def traceback_text(self, result):
        return _pre(result.traceback or "")

    # Re-sending runs the task again: only for staff who may change results.
    @admin.action(
        description="Re-send selected failed tasks with the same arguments", permissions=["change"]
    )
    def resend_failed(self, request, queryset):
        if skipped := queryset.exclude(status=states.FAILURE).count():
            self.message_user(
                request, f"Skipped {skipped} task(s) that had not failed.", messages.WARNING
            )
        sent = []
        for result in queryset.filter(status=states.FAILURE).order_by("date_created"):
            try:
                sent.append(f"{result.task_name} [{resend(result)}]")
            except ValueError as error:
                message = f"Not re-sent {result.task_name} [{result.task_id}]: {error}."
                self.message_user(request, message, messages.ERROR)
            except OperationalError:
                message = "The broker is unreachable: nothing more was sent."
                self.message_user(request, message, messages.ERROR)
                break
        if sent:
            message = f"Re-sent {len(sent)} failed task(s) as new tasks: {', '.join(sent)}."
            self.message_user(request, message)


def _text(stored):
    """A recorded args/kwargs field as stored: a JSON-encoded repr() string."""
    if stored is None:
        return "(not recorded)"
    try:
        return str(json.loads(stored))
    except ValueError:
        return stored


def _pre(text):
    return format_html("<pre>{}</pre>", text)
