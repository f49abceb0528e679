"""django-celery-beat's periodic task admin, its actions open only to staff who may change
schedules: its enable, disable, toggle and run actions declare no permission, so by
default anyone who may view the list could run them.
https://docs.djangoproject.com/en/5.2/ref/contrib/admin/actions/#setting-permissions-for-actions
"""

from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask


class GatedPeriodicTaskAdmin(PeriodicTaskAdmin):
    def get_actions(self, request):
        if not self.has_change_permission(request):
            return {}
        return super().get_actions(request)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, GatedPeriodicTaskAdmin)
