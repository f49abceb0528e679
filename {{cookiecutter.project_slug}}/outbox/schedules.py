"""The outbox's periodic tasks (collected by scheduling's sync_schedules)."""

from scheduling.declarations import Every, ScheduledTask

SCHEDULES = [
    ScheduledTask(
        name="Delete old outbox intents",
        task="outbox.tasks.delete_old_intents",
        # Hourly: each run deletes one hour's worth of rows, never a night's pile at once.
        schedule=Every(1, "hours"),
        description=(
            "Deletes sent outbox intents, and the records of processed ones, older than "
            "OUTBOX_KEEP_DAYS; pending and dead intents are kept."
        ),
    ),
]
