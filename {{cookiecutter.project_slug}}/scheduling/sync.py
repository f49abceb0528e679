"""Write the schedules the apps declare into django-celery-beat's tables, keeping admin edits.

Run by `manage.py sync_schedules` after the migrations; safe to run again. The sync
records the fingerprint of each row it writes (SyncedSchedule) and later updates, or
deletes when no longer declared, only rows that still have it. A row changed since (in
the admin, or a one-off that has run) is kept, and the sync says so; a row of that name
it never wrote is kept, or adopted if it already matches. Template docs: scheduling.md.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from .declarations import fingerprint, stored_definition, write
from .models import SyncedSchedule

# What the sync did to one schedule. "kept" and "released" mean it left an admin's
# change alone; the others mean the row now matches the code (or is gone, as the code says).
CREATED, UPDATED, UNCHANGED, ADOPTED, KEPT, DELETED, RELEASED, FORGOTTEN = (
    "created",
    "updated",
    "unchanged",
    "adopted",
    "kept",
    "deleted",
    "released",
    "forgotten",
)


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str
    detail: str = ""


def sync_schedules(declared, now=None) -> list[Outcome]:
    now = now or timezone.now()
    names = [item.name for item in declared]
    if len(set(names)) != len(names):
        raise ValueError(f"Two declared schedules share a name: {sorted(names)}")
    with transaction.atomic():
        records = {record.name: record for record in SyncedSchedule.objects.select_for_update()}
        rows = {
            row.name: row
            for row in _rows().filter(name__in=[*names, *records]).select_for_update(of=("self",))
        }
        outcomes = [
            _sync(item, rows.get(item.name), records.get(item.name), now) for item in declared
        ]
        outcomes += [
            _retire(name, rows.get(name), record)
            for name, record in records.items()
            if name not in names
        ]
    return outcomes


def _sync(item, row, record, now):
    wanted = item.definition(existing=row, now=now)
    if row is None:
        _remember(write(PeriodicTask(name=item.name), wanted), record)
        return Outcome(item.name, CREATED)
    stored = fingerprint(stored_definition(row))
    if record is None:
        if stored == fingerprint(wanted):
            _remember(row, record)
            return Outcome(item.name, ADOPTED)
        return Outcome(
            item.name,
            KEPT,
            "a schedule of this name exists that the sync did not write; left as it is",
        )
    if stored != record.fingerprint:
        detail = "changed since the last sync (in the admin, or a one-off that has run); kept"
        if fingerprint(wanted) != record.fingerprint:
            detail += (
                ". The code's new definition was NOT applied: delete the schedule in the "
                "admin to have the next sync create it from the code"
            )
        return Outcome(item.name, KEPT, detail)
    if stored == fingerprint(wanted):
        return Outcome(item.name, UNCHANGED)
    _remember(write(row, wanted), record)
    return Outcome(item.name, UPDATED)


def _retire(name, row, record):
    record.delete()
    if row is None:
        return Outcome(name, FORGOTTEN, "no longer declared, and already deleted")
    if fingerprint(stored_definition(row)) == record.fingerprint:
        row.delete()
        return Outcome(name, DELETED, "no longer declared in the code")
    return Outcome(
        name,
        RELEASED,
        "no longer declared in the code, but changed in the admin since the last sync; "
        "left for the admin to manage",
    )


def _remember(row, record):
    """Record the fingerprint of the row as the database now holds it."""
    stored = fingerprint(stored_definition(_rows().get(pk=row.pk)))
    if record is None:
        SyncedSchedule.objects.create(name=row.name, fingerprint=stored)
    else:
        record.fingerprint = stored
        record.save()


def _rows():
    return PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked")
