"""The worker's request class: a late ack on a lost Redis connection must not end the worker.

With late acks a task is acknowledged after it runs. If the Redis broker went away while
it ran, the worker reconnects with a new channel, and the ack goes to the old, closed one.
kombu's Redis transport then fails with an AttributeError (it tries to rebuild a
connection pool from a connection that no longer exists) instead of a connection error,
Celery treats that as unrecoverable, and the whole worker exits, abandoning every other
task it holds. RabbitMQ raises a connection error here, which Celery already logs and
survives.

Nothing is lost by not acknowledging: the message is still unacknowledged in Redis, so
it is delivered again (at once if the worker put it back when it reconnected, otherwise
after the visibility timeout), and the task, idempotent as all late-ack tasks must be,
finds its work done.

BaseTask names this class in its `Request` attribute.
https://docs.celeryq.dev/en/stable/reference/celery.app.task.html#celery.app.task.Task.Request
"""

import logging

from celery.worker.request import Request

logger = logging.getLogger(__name__)


class TaskRequest(Request):
    def acknowledge(self):
        try:
            super().acknowledge()
        except AttributeError as error:
            self._carry_on_if_channel_closed("acknowledge", error)

    def reject(self, requeue=False):
        try:
            super().reject(requeue=requeue)
        except AttributeError as error:
            self._carry_on_if_channel_closed("reject", error)

    def _carry_on_if_channel_closed(self, action, error):
        """Log and carry on if the message's channel is closed; re-raise anything else."""
        if not getattr(self.message.channel, "closed", False):
            raise error
        logger.warning(
            "Could not %s task %s[%s]: its broker connection closed while it ran. "
            "The broker will deliver it again.",
            action,
            self.name,
            self.id,
        )
