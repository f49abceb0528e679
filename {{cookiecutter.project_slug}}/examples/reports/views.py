"""Ask for a report and watch it finish: the request returns before the work is done.

Both reports go through the outbox (docs/outbox.md): the request writes the task as a row
and never waits for the broker, so it answers at database speed, and a report asked for
while the broker is down is built once it is back rather than refused.

Reports read every user's data, so each page needs a signed-in user with the
`users.view_user` permission, and shows a user only the reports they asked for.
"""

from celery.result import AsyncResult
from django.contrib.auth.decorators import login_required, permission_required
from django.db import IntegrityError, transaction
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import exports
from .forms import SignupReportForm
from .models import Export
from .tasks import build_signup_export, summarise_signups

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
        with transaction.atomic():
            # The intent's id is the id the task will run with, so the status page can
            # follow it before the relay has published it (it is PENDING until then).
            intent = summarise_signups.delay_in_outbox(form.cleaned_data["days"])
        task_id = str(intent.id)
        remembered = request.session.get(SESSION_KEY, [])
        request.session[SESSION_KEY] = [*remembered, task_id][-REMEMBERED_REPORTS:]
        return redirect("reports:task-status", task_id=task_id)
    return render_form(request, form)


def render_form(request, form, status=200, **context):
    return render(request, "reports/request.html", {"form": form, **context}, status=status)


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
        # The export and its task commit together: there is never a running export that
        # no task will finish, which would block the user's next export.
        with transaction.atomic():
            export = Export.objects.create(user=request.user)
            build_signup_export.delay_in_outbox(str(export.id))
    except IntegrityError:
        running = "You already have an export running: wait for it to finish."
        return render_form(request, SignupReportForm(), status=409, export_refused=running)
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


def export_state(export):
    """The same answer as state_of(), read from the export's row once it has finished.

    The row is what says an export is done; while it runs, its progress is the state the
    task records under the export's id (examples/reports/tasks.py).
    """
    if export.status == Export.Status.DONE:
        return {"id": str(export.id), "state": "SUCCESS", "result": {"rows": export.rows}}
    if export.status == Export.Status.FAILED:
        return {"id": str(export.id), "state": "FAILURE", "error": FAILED}
    return state_of(export.id)


@may_read_users
def export_status_json(request, export_id):
    return JsonResponse(export_state(own_export(request, export_id)))


@may_read_users
def export_download(request, export_id):
    export = own_export(request, export_id)
    path = exports.export_path(export.id)
    if export.status != Export.Status.DONE or not path.exists():
        raise Http404("This export is not ready")
    return FileResponse(path.open("rb"), as_attachment=True, filename="signups.csv")
