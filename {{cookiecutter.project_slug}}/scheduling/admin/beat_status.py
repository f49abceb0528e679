"""The beat-status page: what runs next, what failed last, and whether beat is alive.

It is the admin "changelist" of BeatStatus, a proxy of PeriodicTask, so that it is
listed on the admin index and guarded like any admin page: staff only, with the view
permission on "beat status" (superusers have it).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from ..models import BeatStatus
from ..status import beat_status


@admin.register(BeatStatus)
class BeatStatusAdmin(admin.ModelAdmin):
    def get_urls(self):
        # The page only; no add, change or delete views for the proxy.
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="scheduling_beatstatus_changelist")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Beat status",
            "opts": self.model._meta,
            "status": beat_status(),
            "time_zone": timezone.get_current_timezone_name(),
        }
        return TemplateResponse(request, "admin/scheduling/beat_status.html", context)
