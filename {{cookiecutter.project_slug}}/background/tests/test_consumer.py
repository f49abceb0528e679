"""The worker's consumer, on the real RabbitMQ: events unconfirmed, tasks confirmed."""

from celery import shared_task

from background.testing import wait_until

ran = []


@shared_task
def note_it(number):
    ran.append(number)


def test_events_go_out_without_confirms_while_tasks_keep_theirs(celery_app, celery_worker):
    # The worker's event dispatcher: its py-amqp connection waits for no confirm.
    dispatcher = celery_worker.consumer.event_dispatcher
    assert dispatcher.enabled, "the worker sends events (its heartbeats, and tasks' for Flower)"
    assert dispatcher.connection.connection.confirm_publish is False
    # A task published with the project's settings still waits for the broker's confirm.
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        assert connection.connection.confirm_publish is True
        note_it.apply_async((7,), connection=connection)
    wait_until(lambda: 7 in ran, timeout=10)
