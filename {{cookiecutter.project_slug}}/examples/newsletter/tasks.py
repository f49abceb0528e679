"""Newsletter and welcome e-mail tasks.

Lessons: fan out one task per item instead of looping in one task; limit the rate of
calls to a mail server; retry only the errors that may pass; route user-facing work
to its own queue.
"""

import smtplib

from celery import group, shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from . import services

# Failures that may pass (the base task adds database errors): the SMTP connection
# dropped, or the server said "try later". A refused recipient (5xx) is permanent.
TRANSIENT_MAIL_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
    services.MailTemporarilyRefused,
)


@shared_task
def send_newsletter(newsletter_id):
    """Fan out: one deliver_newsletter task per recipient, sent 500 at a time.

    It only creates the delivery rows and sends the tasks, so it is quick and safe to run
    again; each delivery then runs, retries or fails on its own, on any worker.
    Template docs: patterns/fan-out.md.
    """
    for delivery_ids in services.create_deliveries(newsletter_id):
        group(deliver_newsletter.s(delivery_id) for delivery_id in delivery_ids).apply_async()


@shared_task(
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    # The mail provider accepts 20 messages a second. The limit holds per worker (all of
    # its processes together), not across workers: two workers send up to 40 a second.
    # https://docs.celeryq.dev/en/stable/userguide/tasks.html#Task.rate_limit
    rate_limit="20/s",
    acks_late=True,  # a delivery sent twice is skipped the second time
)
def deliver_newsletter(delivery_id):
    """Send one newsletter to one recipient, once (see services.deliver)."""
    return services.deliver(delivery_id)


@shared_task(autoretry_for=TRANSIENT_MAIL_ERRORS)
def send_welcome_email(user_id):
    """Welcome a new user. Routed to the priority queue: they are waiting for it.

    Call it as send_welcome_email.delay_on_commit(user.id) from the sign-up view, so it
    is sent only if the sign-up is committed.
    """
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or not user.email:
        return False
    send_mail("Welcome!", f"Hello {user.get_username()}, welcome aboard.", None, [user.email])
    return True
