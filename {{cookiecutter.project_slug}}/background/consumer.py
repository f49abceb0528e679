"""The worker's consumer: Celery's, with three changes. Installed by CELERY_WORKER_CONSUMER.

- A message it cannot decode (broken JSON, raw bytes) is rejected, so RabbitMQ
  dead-letters it for a person to inspect; Celery would acknowledge it, and it would be
  gone. On Redis a rejected message is dropped, as before.
- Its events (task received, started, succeeded: three per task, for Flower) are sent
  without publisher confirms. They are monitoring, not work: waiting for the broker's
  confirm of each one held the worker's event loop for a round trip three times a task
  (docs/benchmarks.md has the cost). Tasks, retries and results keep their confirms.
- Delayed delivery is set up through the node the worker uses
  (background/delayed_delivery.py).
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

    def connection_for_write(self, url=None, heartbeat=None):
        # Celery's consumer opens this connection only for its event dispatcher.
        return self.ensure_connected(
            self.app.connection_for_write(
                url=url, heartbeat=heartbeat, transport_options={"confirm_publish": False}
            )
        )

    def on_decode_error(self, message, exc):
        logger.critical(
            "Rejected an undecodable message (%s, content type %r): %s",
            type(exc).__name__,
            message.content_type,
            exc,
        )
        message.reject(requeue=False)
