"""Declare the task queues and the dead-letter queue at the broker.

RabbitMQ drops a dead-lettered message when no queue receives it, and no worker consumes
(so declares) the dead-letter queue. So it is declared here: by `manage.py
declare_queues` before the workers start, and again whenever a worker starts. Declaring
every task queue first also lets each worker set up Celery's delayed delivery for them.
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


def declare(app, queues):
    with app.connection_for_write() as connection:
        for queue in queues:
            queue(connection.default_channel).declare()


@worker_ready.connect
def declare_dead_letter_queue(sender, **kwargs):
    declare(sender.app, [dead_letter_queue()])
