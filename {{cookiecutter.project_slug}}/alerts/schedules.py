"""The alerts app's periodic tasks (collected by scheduling's sync_schedules)."""

from scheduling.declarations import Every, ScheduledTask

SCHEDULES = [
    ScheduledTask(
        name="Check queue depths",
        task="alerts.tasks.check_queue_depths",
        schedule=Every(1, "minutes"),
        description=(
            "Logs every queue's length and alerts when one stays above "
            "QUEUE_DEPTH_ALERT_THRESHOLD: the first sign that more workers are needed."
        ),
    ),
]
