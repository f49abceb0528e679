"""Periodic monitoring tasks."""

from celery import shared_task

from . import queue_depth


@shared_task(bind=True, ignore_result=False)
def check_queue_depths(self):
    """Log every queue's length and alert on queues that stay too long.

    It stores its result, so the beat-status page shows the latest lengths.
    """
    return queue_depth.check(self.app)
