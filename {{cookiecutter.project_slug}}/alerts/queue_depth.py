"""Measure queue lengths at the broker and alert when a queue stays too long.

A queue that keeps growing is the first sign that more workers are needed.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from kombu.exceptions import ChannelError

from . import channels, messages

logger = logging.getLogger(__name__)


def queue_lengths(app, names):
    """{queue name: messages waiting}, asked of the broker itself.

    A passive declare returns a queue's message count on RabbitMQ and on Redis alike.
    An unknown queue counts as empty: on Redis, an empty queue does not exist.
    """
    lengths = {}
    with app.connection_for_read() as connection:
        for name in names:
            # A failed passive declare closes its channel on RabbitMQ: one per queue.
            channel = connection.channel()
            try:
                lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except ChannelError:
                lengths[name] = 0
            finally:
                channel.close()
    return lengths


def alert_on_deep_queues(lengths, threshold, after_seconds):
    """Alert for each queue that has stayed above `threshold` for `after_seconds`."""
    now = timezone.now()
    for name, length in lengths.items():
        key = f"alerts:queue-above-threshold-since:{name}"
        if length <= threshold:
            cache.delete(key)
            continue
        cache.add(key, now, timeout=None)
        since = cache.get(key, now)
        if (now - since).total_seconds() >= after_seconds:
            channels.notify(messages.deep_queue(name, length, threshold, since))


def check(app):
    names = [queue.name for queue in app.conf.task_queues]
    lengths = queue_lengths(app, names)
    logger.info("Queue lengths: %s", lengths)
    alert_on_deep_queues(
        lengths,
        settings.QUEUE_DEPTH_ALERT_THRESHOLD,
        settings.QUEUE_DEPTH_ALERT_AFTER_SECONDS,
    )
    return lengths
