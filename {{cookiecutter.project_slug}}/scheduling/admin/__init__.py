"""The scheduling app's admin pages: the beat-status page and the task results."""

from . import beat_status, task_results

__all__ = ["beat_status", "task_results"]
