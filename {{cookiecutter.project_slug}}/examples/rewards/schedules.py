"""The rewards example's periodic task (collected by scheduling's sync_schedules)."""

from scheduling.declarations import Every, ScheduledTask

SCHEDULES = [
    ScheduledTask(
        name="Award missed points",
        task="examples.rewards.tasks.award_missed_points",
        schedule=Every(10, "minutes"),
        description=(
            "Sends award_points again for purchases still without points after 10 "
            "minutes: the safety net for a message lost between the database and a worker."
        ),
    ),
]
