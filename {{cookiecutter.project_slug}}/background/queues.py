"""Declare the task queues and the dead-letter queue at the broker.

RabbitMQ drops a dead-lettered message, without any error, when no queue is bound to
receive it. Workers never consume the dead-letter queue (a person inspects it in the
RabbitMQ management UI), so no worker would declare it by consuming it: this does,
from `manage.py declare_queues` (run by the migrate start script) and again whenever a
worker starts. Declaring every task queue before the workers start also lets each
worker set up Celery's delayed delivery for queues it does not consume itself.
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
