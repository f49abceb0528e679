"""Declare the dead-letter queue when a worker starts.

RabbitMQ drops a dead-lettered message, without any error, when no queue is bound to
receive it. Workers never consume this queue (a person inspects it in the RabbitMQ management UI),
so no worker would declare it by consuming it: this does.
"""

from celery.signals import worker_ready
from django.conf import settings
from kombu import Queue


@worker_ready.connect
def declare_dead_letter_queue(sender, **kwargs):
    queue = Queue(
        settings.DEAD_LETTER_QUEUE,
        routing_key=settings.DEAD_LETTER_QUEUE,
        queue_arguments={"x-queue-type": "quorum"},
    )
    with sender.app.connection_for_write() as connection:
        queue(connection.default_channel).declare()
