"""Enqueue a report and watch it finish: the request returns before the work is done.

Reports read every user's data, so each page needs a signed-in user with the
`users.view_user` permission, and shows a user only the reports they asked for.
"""

import logging

from celery.result import AsyncResult
from django.contrib.auth.decorators import login_required, permission_required
from django.db import IntegrityError, transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from . import exports
from .forms import SignupReportForm
from .models import Export
from .tasks import build_signup_export, summarise_signups

logger = logging.getLogger(__name__)

# What delay() raises when the task cannot be queued: OperationalError when the broker
# is unreachable; RuntimeError from the Redis result backend when it cannot subscribe to
# the task's result channel because Redis is unreachable.
ENQUEUE_ERRORS = (OperationalError, RuntimeError)
# What a user sees when a task failed: the error itself goes to the log and the
# failure alert, where it may name hosts or data a page must not show.
FAILED = "The task failed. The site's staff have been told."

# The ids of the summaries this session asked for: a user may read only their own
# results, and a guessed task id reveals nothing.
SESSION_KEY = "report_task_ids"
REMEMBERED_REPORTS = 20


def may_read_users(view):
    """Signed in (else to the sign-in page), with users.view_user (else 403)."""
    return login_required(permission_required("users.view_user", raise_exception=True)(view))


@may_read_users
def request_report(request):
    form = SignupReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = summarise_signups.delay(form.cleaned_data["days"])
        except ENQUEUE_ERRORS:
            # The broker (or the result store) is down: say so instead of pretending
            # the report is on its way. Nothing was queued, so trying again is safe.
            logger.exception("Could not enqueue summarise_signups")
            return render_form(request, form, status=503)
        remembered = request.session.get(SESSION_KEY, [])
        request.session[SESSION_KEY] = [*remembered, result.id][-REMEMBERED_REPORTS:]
        return redirect("reports:task-status", task_id=result.id)
    return render_form(request, form)


def render_form(request, form, status=200, **context):
    context = {"form": form, "broker_down": status == 503, **context}
    return render(request, "reports/request.html", context, status=status)


def ensure_requested_here(request, task_id):
    if str(task_id) not in request.session.get(SESSION_KEY, []):
        raise Http404("No such report")


@may_read_users
def task_status(request, task_id):
    ensure_requested_here(request, task_id)
    return render(request, "reports/status.html", {"task_id": task_id})


def state_of(task_id):
    """A task's state, its progress while it runs, and its result at the end."""
    result = AsyncResult(str(task_id))
    data = {"id": result.id, "state": result.state}
    if result.state == "PROGRESS":
        data["progress"] = result.info
    elif result.successful():
        data["result"] = result.result
    elif result.failed():
        data["error"] = FAILED
    return data


@may_read_users
def task_status_json(request, task_id):
    ensure_requested_here(request, task_id)
    return JsonResponse(state_of(task_id))


@require_POST
@may_read_users
def request_export(request):
    try:
        with transaction.atomic():
            export = Export.objects.create(user=request.user)
            # Sent with the export's id as its task id, so the progress page can follow
            # it; and only once the row is committed, so the worker finds it.
            build_signup_export.apply_async_on_commit([str(export.id)], task_id=str(export.id))
    except IntegrityError:
        running = "You already have an export running: wait for it to finish."
        return render_form(request, SignupReportForm(), status=409, export_refused=running)
    except ENQUEUE_ERRORS:
        logger.exception("Could not enqueue build_signup_export")
        Export.objects.filter(pk=export.pk).delete()
        return render_form(request, SignupReportForm(), status=503)
    return redirect("reports:export-progress", export_id=export.id)


def own_export(request, export_id):
    return get_object_or_404(Export, pk=export_id, user=request.user)


@may_read_users
def export_progress(request, export_id):
    export = own_export(request, export_id)
    context = {
        "export": export,
        "status_url": reverse("reports:export-status-json", args=[export.id]),
        "download_url": reverse("reports:export-download", args=[export.id]),
    }
    return render(request, "reports/export.html", context)


@may_read_users
def export_status_json(request, export_id):
    return JsonResponse(state_of(own_export(request, export_id).id))


@may_read_users
def export_download(request, export_id):
    export = own_export(request, export_id)
    path = exports.export_path(export.id)
    if export.status != Export.Status.DONE or not path.exists():
        raise Http404("This export is not ready")
    return FileResponse(path.open("rb"), as_attachment=True, filename="signups.csv")
