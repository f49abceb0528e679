"""Enqueue a report and watch it finish: the request returns before the work is done."""

import logging

from celery.result import AsyncResult
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from . import exports
from .forms import SignupReportForm
from .tasks import build_signup_export, summarise_signups

logger = logging.getLogger(__name__)

# What delay() raises when the task cannot be queued: OperationalError when the broker
# is unreachable; RuntimeError from the Redis result backend when it cannot subscribe to
# the task's result channel because Redis is unreachable.
ENQUEUE_ERRORS = (OperationalError, RuntimeError)

# The ids of the tasks this browser session asked for: a session may read only its
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
        remember(request, result.id)
        return redirect("reports:task-status", task_id=result.id)
    return render(request, "reports/request.html", {"form": form})


def remember(request, task_id):
    remembered = request.session.get(SESSION_KEY, [])
    request.session[SESSION_KEY] = [*remembered, task_id][-REMEMBERED_REPORTS:]


def ensure_requested_here(request, task_id):
    if str(task_id) not in request.session.get(SESSION_KEY, []):
        raise Http404("No such report")


def task_status(request, task_id):
    ensure_requested_here(request, task_id)
    return render(request, "reports/status.html", {"task_id": task_id})


def task_status_json(request, task_id):
    """The task's state, its progress while it runs, and its result or error at the end."""
    ensure_requested_here(request, task_id)
    result = AsyncResult(str(task_id))
    data = {"id": result.id, "state": result.state}
    if result.state == "PROGRESS":
        data["progress"] = result.info
    elif result.successful():
        data["result"] = result.result
    elif result.failed():
        data["error"] = f"{type(result.result).__name__}: {result.result}"
    return JsonResponse(data)


@require_POST
def request_export(request):
    try:
        result = build_signup_export.delay()
    except ENQUEUE_ERRORS:
        logger.exception("Could not enqueue build_signup_export")
        context = {"form": SignupReportForm(), "broker_down": True}
        return render(request, "reports/request.html", context, status=503)
    remember(request, result.id)
    return redirect("reports:export-progress", task_id=result.id)


def export_progress(request, task_id):
    ensure_requested_here(request, task_id)
    download_url = reverse("reports:export-download", args=[task_id])
    return render(
        request, "reports/export.html", {"task_id": task_id, "download_url": download_url}
    )


def export_download(request, task_id):
    ensure_requested_here(request, task_id)
    path = exports.export_path(task_id)
    if not path.exists():
        raise Http404("This export is not ready")
    return FileResponse(path.open("rb"), as_attachment=True, filename="signups.csv")
