"""Failure alerts: sent once per final failure, held back in a storm, never fatal."""

import socket
import time

import pytest
from celery import shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure
from django.core.cache import cache

from alerts import channels, queue_depth, throttle
from alerts.messages import Alert
from alerts.redaction import REDACTED, redact, redact_text
from background.base import BaseTask
from background.testing import wait_until
from config.celery_app import app

tries = {}


@shared_task(bind=True)
def charge_card(self, order_id, card_token):
    raise ValueError(f"card declined for order {order_id}")


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_backoff=1, max_retries=2)
def flaky_once(self, key):
    tries[key] = tries.get(key, 0) + 1
    if tries[key] == 1:
        raise ConnectionError("a blip")
    return tries[key]


class OwnFailureHook(BaseTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """A task class's own hook that does not call super()."""


@shared_task(base=OwnFailureHook)
def refund(order_id):
    raise ValueError(f"no payment for order {order_id}")


def test_secrets_are_redacted_by_name_and_in_urls():
    arguments = {
        "order": 7,
        "card_token": "tok_123",
        "nested": {"api_key": "abc", "note": "see amqp://app:hunter2@rabbitmq:5672//"},
    }

    assert redact(arguments) == {
        "order": 7,
        "card_token": REDACTED,
        "nested": {"api_key": REDACTED, "note": f"see amqp://app:{REDACTED}@rabbitmq:5672//"},
    }


@shared_task
def call_partner_api(customer_email, session_id):
    raise ConnectionError(
        "https://api.partner.example/v1/invoices?api_key=sk_live_51Hxyz&page=2 refused "
        f"(Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc, {customer_email})"
    )


@pytest.mark.parametrize(
    "text, secret",
    [
        ("redis://:hunter2@cache:6379/0", "hunter2"),
        ("amqp://app:hunter2@rabbitmq:5672/", "hunter2"),
        ("GET /callback?token=abc123&next=/", "abc123"),
        ("https://partner.example/api?api_key=sk_live_1&x=1", "sk_live_1"),
        ("form: username=bob&password=hunter2", "hunter2"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "eyJhbGciOiJIUzI1NiJ9"),
        ("Authorization: Basic Ym9iOmh1bnRlcjI=", "Ym9iOmh1bnRlcjI="),
    ],
)
def test_each_form_of_secret_is_hidden_in_text(text, secret):
    assert secret not in redact_text(text)
    assert REDACTED in redact_text(text)


def test_secret_keys_by_any_of_their_names_are_hidden():
    arguments = {"auth": "a", "credentials": "c", "session_id": "s", "jwt": "j", "user": "bob"}

    assert redact(arguments) == {**{key: REDACTED for key in arguments}, "user": "bob"}


@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_any_field_and_the_webhook_gets_no_personal_data(
    celery_worker, smtp_inbox, webhook
):
    call_partner_api.delay("alice@example.com", session_id="sess-42")

    wait_until(lambda: smtp_inbox.messages and webhook.posts)
    [mail] = smtp_inbox.messages
    sent = [mail["Subject"], mail.get_payload(), webhook.posts[0]["text"]]
    for text in sent:
        for secret in ("sk_live_51Hxyz", "eyJhbGciOiJIUzI1NiJ9", "sess-42"):
            assert secret not in text
    # The admins see the arguments (redacted); the third-party webhook sees none of them.
    assert "alice@example.com" in mail.get_payload()
    assert "alice@example.com" not in webhook.posts[0]["text"]
    assert "Arguments:" not in webhook.posts[0]["text"]
    assert "call_partner_api failed: ConnectionError" in webhook.posts[0]["text"]


def test_a_storm_gives_one_alert_and_the_next_one_counts_the_rest():
    decisions = [throttle.admit("storm", window_seconds=1) for _ in range(20)]
    time.sleep(1.2)  # the window closes

    assert decisions[0] == (True, 0)
    assert all(send is False for send, _ in decisions[1:])
    assert throttle.admit("storm", window_seconds=1) == (True, 19)


@pytest.mark.django_db(transaction=True)
def test_a_final_failure_emails_the_admins_once_with_what_they_need(
    celery_worker, smtp_inbox, webhook
):
    result = charge_card.delay(41, card_token="tok_secret")

    wait_until(lambda: smtp_inbox.messages and webhook.posts)
    [mail] = smtp_inbox.messages
    body = mail.get_payload()
    assert "charge_card failed: ValueError" in mail["Subject"]
    assert f"Id:        {result.id}" in body
    assert "Queue:     default" in body
    assert "Arguments: [41]" in body
    assert f"'card_token': '{REDACTED}'" in body and "tok_secret" not in body
    assert "ValueError: card declined for order 41" in body
    assert f"/task/{result.id}" in body
    assert "Traceback" in body
    assert "charge_card failed" in webhook.posts[0]["text"]


@pytest.mark.django_db(transaction=True)
def test_a_task_with_its_own_failure_hook_is_still_reported(celery_worker, smtp_inbox):
    refund.delay(8)

    wait_until(lambda: smtp_inbox.messages)
    [mail] = smtp_inbox.messages
    assert "refund failed: ValueError" in mail["Subject"]


def test_a_failure_signalled_twice_is_alerted_once(smtp_inbox):
    # Celery 5.7 sends task_failure twice for a task killed by its hard time limit.
    for _ in range(2):
        task_failure.send(
            sender=charge_card,
            task_id="killed-once",
            exception=TimeLimitExceeded(360),
            args=[],
            kwargs={},
            traceback=None,
            einfo=None,
        )

    assert len(smtp_inbox.messages) == 1
    assert not cache.get(f"alerts:suppressed:task:{charge_card.name}:TimeLimitExceeded")


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_failures_send_one_email(celery_worker, smtp_inbox, settings):
    settings.ALERTS_WINDOW_SECONDS = 60
    for order in range(20):
        charge_card.delay(order, card_token="t")

    suppressed = f"alerts:suppressed:task:{charge_card.name}:ValueError"
    wait_until(lambda: cache.get(suppressed) == 19)
    assert len(smtp_inbox.messages) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retry_that_then_succeeds_sends_nothing(celery_worker, smtp_inbox):
    flaky_once.delay("retry-only")

    wait_until(lambda: tries.get("retry-only") == 2)
    time.sleep(0.5)  # an alert would be sent before the task finishes; give it time anyway

    assert smtp_inbox.messages == []


@pytest.mark.django_db(transaction=True)
def test_a_dead_webhook_neither_breaks_the_worker_nor_stops_the_email(
    celery_worker, smtp_inbox, settings
):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        settings.ALERTS_WEBHOOK_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"

    charge_card.delay(2, card_token="t")
    wait_until(lambda: smtp_inbox.messages)

    assert flaky_once.delay("after-dead-webhook") is not None
    wait_until(lambda: tries.get("after-dead-webhook") == 2)


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_stays_deep_raises_an_alert(smtp_inbox):
    from kombu import Queue

    probe = Queue("depth_probe", routing_key="depth_probe")
    with app.connection_for_write() as connection:
        probe(connection.default_channel).declare()
        with connection.Producer() as producer:
            for number in range(5):
                producer.publish({"n": number}, routing_key="depth_probe", retry=True)
    try:
        lengths = queue_depth.queue_lengths(app, ["depth_probe"])
        queue_depth.alert_on_deep_queues(lengths, threshold=3, after_seconds=0)
    finally:
        with app.connection_for_write() as connection:
            probe(connection.default_channel).delete()

    assert lengths == {"depth_probe": 5}
    [mail] = smtp_inbox.messages
    assert "Queue depth_probe holds 5 messages" in mail["Subject"]


def test_a_failing_channel_is_logged_not_raised(settings, caplog):
    settings.ALERTS_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    assert channels.notify(Alert(kind="x", title="t", body="b")) is True
    assert "alert channel failed" in caplog.text
    assert "unreachable" not in caplog.text  # the webhook's URL is its secret


def test_a_webhook_that_refuses_is_logged_without_its_url(webhook, settings, caplog):
    webhook.status = 500
    settings.ALERTS_WEBHOOK_URL = webhook.url + "/T0001/B0001/secret-path-1234"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    channels.notify(Alert(kind="x", title="t", body="b"))

    assert "post_to_webhook alert channel failed" in caplog.text
    assert "HTTPError, HTTP 500" in caplog.text
    assert "secret-path-1234" not in caplog.text
