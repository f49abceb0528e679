"""Enqueue a report and watch it finish: the request returns before the work is done."""

import logging

from celery.result import AsyncResult
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from kombu.exceptions import OperationalError

from .forms import SignupReportForm
from .tasks import summarise_signups

logger = logging.getLogger(__name__)

# What delay() raises when the task cannot be queued: OperationalError when the broker
# is unreachable; RuntimeError from the Redis result backend when it cannot subscribe to
# the task's result channel because Redis is unreachable.
ENQUEUE_ERRORS = (OperationalError, RuntimeError)

# The ids of the reports this browser session asked for: a session may read only its
# own results, and a guessed task id reveals nothing.
SESSION_KEY = "report_task_ids"
REMEMBERED_REPORTS = 20


def request_report(request):
    form = SignupReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = summarise_signups.delay(form.cleaned_data["days"])
        except ENQUEUE_ERRORS:
            # The broker (or the result store) is down: say so instead of pretending
            # the report is on its way. Nothing was queued, so trying again is safe.
            logger.exception("Could not enqueue summarise_signups")
            context = {"form": form, "broker_down": True}
            return render(request, "reports/request.html", context, status=503)
        remembered = request.session.get(SESSION_KEY, [])
        request.session[SESSION_KEY] = [*remembered, result.id][-REMEMBERED_REPORTS:]
        return redirect("reports:task-status", task_id=result.id)
    return render(request, "reports/request.html", {"form": form})


def ensure_requested_here(request, task_id):
    if str(task_id) not in request.session.get(SESSION_KEY, []):
        raise Http404("No such report")


def task_status(request, task_id):
    ensure_requested_here(request, task_id)
    return render(request, "reports/status.html", {"task_id": task_id})


def task_status_json(request, task_id):
    """The task's state, and its result or error once it is finished."""
    ensure_requested_here(request, task_id)
    result = AsyncResult(str(task_id))
    data = {"id": result.id, "state": result.state}
    if result.successful():
        data["result"] = result.result
    elif result.failed():
        data["error"] = f"{type(result.result).__name__}: {result.result}"
    return JsonResponse(data)
