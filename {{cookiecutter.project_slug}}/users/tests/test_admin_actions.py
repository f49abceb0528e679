"""Admin actions act: staff who may only view get none, on any model."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission


def offered_actions(user, rf):
    request = rf.get("/admin/")
    request.user = user
    return {
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    }


@pytest.mark.django_db
def test_staff_who_may_only_view_are_offered_no_action_on_any_model(rf):
    User = get_user_model()
    viewer = User.objects.create_user("viewer", password="a-long-test-password", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    viewer = User.objects.get(pk=viewer.pk)  # a fresh permission cache
    superuser = User.objects.create_superuser("root", password="a-long-test-password")

    assert offered_actions(viewer, rf) == set()
    # Not an empty registry: a superuser is offered them, django-celery-beat's too.
    offered = offered_actions(superuser, rf)
    assert {"django_celery_beat.PeriodicTask.run_tasks", "outbox.Intent.requeue_dead"} <= offered
    assert "django_celery_results.TaskResult.resend_failed" in offered
