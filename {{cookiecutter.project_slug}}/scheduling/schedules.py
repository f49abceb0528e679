"""The scheduling app's own periodic tasks.

Each installed app declares its periodic tasks in its own `schedules.py`, as a list named
SCHEDULES; `python manage.py sync_schedules` writes them all into django-celery-beat's
tables, where beat reads them and the admin shows them (compose/common/django/migrate
runs it after the migrations). Change a schedule in code and the next sync applies it,
unless someone has changed that schedule in the admin since: their change wins
(see scheduling/sync.py).

Celery adds one more by itself when beat starts: `celery.backend_cleanup`, which deletes
task results older than CELERY_RESULT_EXPIRES every day at 04:00.
"""

from datetime import timedelta

from .declarations import Cron, Every, OnceAfterFirstSync, ScheduledTask

SCHEDULES = [
    ScheduledTask(
        name="Round trip: beat to a worker",
        task="scheduling.tasks.round_trip",
        schedule=Every(5, "minutes"),
        description=(
            "Beat sends it, a worker runs it and stores its result: a recent success on "
            "the beat-status page shows the whole path works."
        ),
    ),
    ScheduledTask(
        name="Clear expired sessions",
        task="scheduling.tasks.clear_expired_sessions",
        # 03:30 every night, project time: https://crontab.guru/#30_3_*_*_*
        # Avoid 02:00-02:59, which many zones skip or repeat when daylight saving changes.
        schedule=Cron(minute="30", hour="3"),
        description="Deletes expired sessions, which Django never removes by itself.",
    ),
    ScheduledTask(
        name="Check the setup once",
        task="scheduling.tasks.check_setup",
        schedule=OnceAfterFirstSync(timedelta(minutes=1)),
        description=(
            "Runs once, a minute after the schedules were first installed: a worker "
            "checks it reaches the database and the cache."
        ),
    ),
]
