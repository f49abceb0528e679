"""Writing the sign-up export: every user, as CSV, a batch at a time."""

import csv
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

USERS_PER_BATCH = 500


def export_path(export_id):
    return Path(settings.MEDIA_ROOT) / "exports" / f"signups-{export_id}.csv"


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
