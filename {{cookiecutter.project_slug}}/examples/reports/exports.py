"""Writing the sign-up export: every user, as CSV, a batch at a time."""

import csv
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

USERS_PER_BATCH = 500
# Exports hold personal data: files and their records are deleted after this long.
KEEP_FOR = timedelta(hours=24)


def exports_dir():
    return Path(settings.MEDIA_ROOT) / "exports"


def export_path(export_id):
    """The file of one export. The id must be a UUID, so no name can reach outside
    exports_dir() (ValueError otherwise)."""
    return exports_dir() / f"signups-{uuid.UUID(str(export_id))}.csv"


def delete_old_exports(now=None):
    """Delete exports older than KEEP_FOR, their files, and any file left that old.
    Returns the number of files deleted."""
    from .models import Export

    cutoff = (now or timezone.now()) - KEEP_FOR
    Export.objects.filter(created_at__lt=cutoff).delete()
    deleted = 0
    for path in exports_dir().glob("signups-*"):
        if path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def write_signup_export(export_id, report_progress):
    """Write the export file and return its row count.

    report_progress(done, total) is called after each batch. The file is written under
    a temporary name and renamed when complete, so a half-written export is never
    mistaken for a finished one.
    """
    users = get_user_model().objects.order_by("pk")
    total = users.count()
    path = export_path(export_id)
    partial = path.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    try:
        with partial.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["id", "username", "email", "date_joined"])
            for user in users.iterator(chunk_size=USERS_PER_BATCH):
                writer.writerow([user.pk, user.get_username(), user.email, user.date_joined])
                done += 1
                if done % USERS_PER_BATCH == 0:
                    report_progress(done, total)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    report_progress(done, total)
    return done
