"""A worker consumer that dead-letters messages it cannot decode, instead of dropping them.

Celery acknowledges a message whose body it cannot decode (invalid JSON, raw bytes)
and logs it: the message is gone. (A refused content type such as pickle is rejected
by Celery itself.) Rejecting it instead lets
RabbitMQ move it to the dead-letter queue, where a person can see what was sent.
(Redis cannot dead-letter: there the rejected message is dropped, as before, and the
log line is what remains.) Installed by CELERY_WORKER_CONSUMER in the settings.
https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-consumer
"""

import logging

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


class DeadLetteringConsumer(Consumer):
    def on_decode_error(self, message, exc):
        logger.critical(
            "Rejected an undecodable message (%s, content type %r): %s",
            type(exc).__name__,
            message.content_type,
            exc,
        )
        message.reject(requeue=False)
