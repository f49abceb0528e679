"""Declare the task queues and the dead-letter queue at the broker.

RabbitMQ drops a dead-lettered message when no queue receives it, and no worker consumes
(so declares) the dead-letter queue. So it is declared here: by `manage.py
declare_queues` before the workers start, and again whenever a worker starts. Declaring
every task queue first also lets each worker set up Celery's delayed delivery for them.
The outbox relay declares the task queues through its own connection the same way.
https://www.rabbitmq.com/docs/dlx
"""

from celery.signals import worker_ready
from django.conf import settings
from kombu import Queue


def dead_letter_queue():
    return Queue(
        settings.DEAD_LETTER_QUEUE,
        routing_key=settings.DEAD_LETTER_QUEUE,
        queue_arguments={"x-queue-type": "quorum"},
    )


def declare(app, queues, connection=None):
    """Declare the queues through `connection`, or through a connection of their own."""
    if connection is not None:
        for queue in queues:
            queue(connection.default_channel).declare()
        return
    with app.connection_for_write() as connection:
        declare(app, queues, connection)


@worker_ready.connect
def declare_dead_letter_queue(sender, **kwargs):
    declare(sender.app, [dead_letter_queue()])
