"""A worker consumer that rejects messages it cannot decode, so RabbitMQ dead-letters them.

Celery acknowledges an undecodable body (broken JSON, raw bytes), and the message is
gone; rejected, it reaches the dead-letter queue for a person to inspect. On Redis a
rejected message is dropped, as before. Its steps are Celery's, but for delayed delivery
(background/delayed_delivery.py). Installed by CELERY_WORKER_CONSUMER.
https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-consumer
"""

import logging

from celery.worker.consumer import Consumer

logger = logging.getLogger(__name__)


class DeadLetteringConsumer(Consumer):
    class Blueprint(Consumer.Blueprint):
        # Celery's steps, with delayed delivery set up through the node the worker uses
        # (background/delayed_delivery.py says why).
        default_steps = tuple(
            "background.delayed_delivery:ClusterDelayedDelivery"
            if step == "celery.worker.consumer.delayed_delivery:DelayedDelivery"
            else step
            for step in Consumer.Blueprint.default_steps
        )

    def on_decode_error(self, message, exc):
        logger.critical(
            "Rejected an undecodable message (%s, content type %r): %s",
            type(exc).__name__,
            message.content_type,
            exc,
        )
        message.reject(requeue=False)
