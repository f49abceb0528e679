"""Publisher confirms for a batch, against the real RabbitMQ."""

from django.conf import settings
from kombu import Connection, Producer, Queue

from outbox.confirms import BatchConfirms


def test_the_broker_acks_what_it_stores_and_nacks_what_a_full_queue_refuses():
    # A queue that takes two messages and refuses more: RabbitMQ nacks the others.
    # https://www.rabbitmq.com/docs/maxlength#overflow-behaviour
    arguments = {"x-max-length": 2, "x-overflow": "reject-publish"}
    with Connection(settings.CELERY_BROKER_URL) as connection:
        channel = connection.channel()
        queue = Queue("confirms-test", queue_arguments=arguments, channel=channel)
        queue.declare()
        try:
            confirms = BatchConfirms(channel)
            producer = Producer(channel)

            def publish(*numbers):
                for number in numbers:
                    producer.publish({"n": number}, routing_key=queue.name)
                    confirms.published(number)
                return confirms.wait(connection, timeout=10)

            first = publish(0, 1, 2, 3, 4)
            queue.purge()
            # The channel goes on numbering its messages: the next batch is told apart.
            second = publish(5)
        finally:
            queue.delete()

    assert first == ([0, 1], [2, 3, 4])
    assert second == ([5], [])
