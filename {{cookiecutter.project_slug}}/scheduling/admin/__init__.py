"""The scheduling app's admin pages: the beat-status page, the task results, and
django-celery-beat's periodic tasks with gated actions."""

from . import beat_status, periodic_tasks, task_results

__all__ = ["beat_status", "periodic_tasks", "task_results"]
