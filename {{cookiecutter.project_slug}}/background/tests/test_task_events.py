"""Task events wait for a monitor to ask for them (CELERY_WORKER_SEND_TASK_EVENTS)."""

from background.testing import wait_until


def test_a_worker_sends_task_events_once_a_monitor_asks(celery_app, celery_worker):
    dispatcher = celery_worker.consumer.event_dispatcher
    # Only the worker's own events (its heartbeats) until then.
    assert dispatcher.groups == {"worker"}

    # What Flower sends every 5 seconds, over the real broker.
    celery_app.control.enable_events()
    try:
        wait_until(lambda: "task" in dispatcher.groups, timeout=10)
    finally:
        celery_app.control.disable_events()
    wait_until(lambda: "task" not in dispatcher.groups, timeout=10)
