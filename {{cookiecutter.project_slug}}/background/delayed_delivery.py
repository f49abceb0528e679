"""Celery's native delayed delivery, set up through the broker node the worker uses.

With quorum queues, a countdown waits in RabbitMQ, in exchanges and queues each worker
declares when its consumer starts (Celery's DelayedDelivery bootstep). Celery declares
them on every URL of a ";"-separated broker list, and retries one that does not answer
(after 1, 3 and 5 s) before the worker consumes again, so a cluster with a node down
left every reconnecting worker idle. The nodes of one cluster share exchanges and
queues: this declares them through the node the worker is connected to, and tries the
others only if that fails.
https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/rabbitmq.html#using-quorum-queues
"""

import logging

from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

logger = logging.getLogger(__name__)


class ClusterDelayedDelivery(DelayedDelivery):
    def start(self, c):
        self._validate_configuration(c.app)
        urls = [url for url in c.app.conf.broker_url.split(";") if url.strip()]
        # The node the consumer is connected to first; the sort keeps the others' order.
        urls.sort(key=lambda url: Connection(url).host != c.connection.host)
        for url in urls:
            try:
                self._setup_delayed_delivery(c, url)
                return
            except Exception as error:  # any failure: the next node may do
                logger.warning(
                    "Could not set up delayed delivery through %s (%s); trying the next node",
                    maybe_sanitize_url(url),
                    error,
                )
        logger.critical(
            "Delayed delivery is set up through no broker node: countdowns and retries "
            "will fail until the worker reconnects"
        )
