"""Exports of the user list: who asked for each, and how it went."""

import uuid

from django.conf import settings
from django.db import models


class Export(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    # Also the task id and the file's name: chosen here, never taken from a message.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    status = models.CharField(max_length=10, choices=Status, default=Status.RUNNING)
    rows = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # One running export per user: a second request is refused, not queued.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="running"),
                name="one_running_export_per_user",
            )
        ]

    def __str__(self):
        return f"Export {self.id} ({self.status})"
