"""Publisher confirms for a whole batch: publish every message, then wait once.

py-amqp's `confirm_publish` waits for each message's confirm before the next is sent:
one network round trip per message. A channel in confirm mode numbers its messages 1,
2, 3... and RabbitMQ acknowledges them as they are stored, often many in one `basic.ack`
(`multiple`), so a batch costs about one round trip however long it is.
https://www.rabbitmq.com/docs/confirms#publisher-confirms
"""

import time


class Nacked(Exception):
    """RabbitMQ refused a message (basic.nack): it is not in the queue."""

    def __str__(self):
        return "the broker refused the message (basic.nack)"


class BatchConfirms:
    """Track which published items RabbitMQ has confirmed (acked) or refused (nacked).

    After publishing an item's messages on `channel` (a task, and Celery's task-sent
    event with it), call `published(item)`; then `wait()` returns the items whose every
    message was acked, and those with a message nacked, in publishing order.
    """

    def __init__(self, channel):
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        # Count every message published on the channel, whoever publishes it: its
        # delivery tag is its number.
        publish = channel.basic_publish

        def numbered(*args, **kwargs):
            result = publish(*args, **kwargs)
            self.sent += 1
            return result

        channel.basic_publish = numbered
        self.sent = 0  # delivery tag of the last message published
        self.claimed = 0  # delivery tag of the last message given to an item
        self.owner = {}  # delivery tag -> item, for messages not confirmed yet
        self.unconfirmed = {}  # item -> how many of its messages are not confirmed yet
        self.acked = []
        self.nacked = []

    def published(self, item):
        tags = range(self.claimed + 1, self.sent + 1)
        self.claimed = self.sent
        self.owner.update(dict.fromkeys(tags, item))
        self.unconfirmed[item] = len(tags)
        if not tags:
            self._confirm(item)

    def wait(self, connection, timeout):
        """Read the broker's confirms until none is outstanding; return (acked, nacked).

        Raises TimeoutError after `timeout` seconds, or the connection's error if it breaks;
        either way `acked` still holds what was confirmed before.
        """
        deadline = time.monotonic() + timeout
        while self.unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} item(s) not confirmed")
            connection.drain_events(timeout=remaining)
        settled = self.acked, self.nacked
        self.acked, self.nacked = [], []
        return settled

    def _tags(self, delivery_tag, multiple):
        if not multiple:
            return [delivery_tag]
        return sorted(tag for tag in self.owner if tag <= delivery_tag)

    def _on_ack(self, delivery_tag, multiple):
        for tag in self._tags(delivery_tag, multiple):
            item = self.owner.pop(tag, None)
            if item in self.unconfirmed:
                self.unconfirmed[item] -= 1
                if not self.unconfirmed[item]:
                    self._confirm(item)

    def _on_nack(self, delivery_tag, multiple):
        for tag in self._tags(delivery_tag, multiple):
            item = self.owner.pop(tag, None)
            if self.unconfirmed.pop(item, None) is not None:
                self.nacked.append(item)

    def _confirm(self, item):
        del self.unconfirmed[item]
        self.acked.append(item)
