"""The reports example's periodic task (collected by scheduling's sync_schedules)."""

from scheduling.declarations import Every, ScheduledTask

SCHEDULES = [
    ScheduledTask(
        name="Delete old exports",
        task="examples.reports.tasks.delete_old_exports",
        schedule=Every(1, "hours"),
        description="Deletes user exports, which hold personal data, a day after they were made.",
    ),
]
