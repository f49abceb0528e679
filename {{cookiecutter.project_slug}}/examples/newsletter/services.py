"""Creating and sending newsletter deliveries: the logic the tasks call."""

import logging
import smtplib

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Delivery, Newsletter

logger = logging.getLogger(__name__)

RECIPIENTS_PER_BATCH = 500


class MailTemporarilyRefused(Exception):
    """The mail server answered 4xx: it asks us to try again later."""


def create_deliveries(newsletter_id):
    """Create the newsletter's pending deliveries, a batch at a time.

    Yields the ids of each batch's pending deliveries. Re-running is safe: existing
    deliveries are kept (ignore_conflicts on the unique pair), and only those still
    pending are yielded again.
    """
    recipients = get_user_model().objects.filter(is_active=True).exclude(email="").order_by("pk")
    last_pk = 0
    while batch := list(
        recipients.filter(pk__gt=last_pk).values_list("pk", flat=True)[:RECIPIENTS_PER_BATCH]
    ):
        Delivery.objects.bulk_create(
            [Delivery(newsletter_id=newsletter_id, recipient_id=pk) for pk in batch],
            ignore_conflicts=True,
        )
        yield list(
            Delivery.objects.filter(
                newsletter_id=newsletter_id, recipient_id__in=batch, status=Delivery.Status.PENDING
            ).values_list("pk", flat=True)
        )
        last_pk = batch[-1]


def deliver(delivery_id):
    """Send one delivery unless it was already sent. Returns True if it sent.

    The row stays locked from the check to the update, so a duplicate of this task
    running at the same moment waits, then finds the delivery sent and skips it. If the
    process dies after the mail server accepted the mail but before the commit, the
    retry sends it again: mail is at-least-once, as SMTP offers no way to ask whether
    a message was already delivered.
    """
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .select_related("newsletter", "recipient")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status == Delivery.Status.SENT:
            return False
        try:
            send_mail(
                delivery.newsletter.subject,
                delivery.newsletter.body,
                None,
                [delivery.recipient.email],
            )
        except smtplib.SMTPResponseException as error:
            if 400 <= error.smtp_code < 500:
                raise MailTemporarilyRefused(str(error)) from error
            raise
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.save(update_fields=["status", "sent_at"])
    return True


def create_newsletter(subject, body):
    """Save a newsletter and start sending it once it is committed."""
    from .tasks import send_newsletter

    with transaction.atomic():
        newsletter = Newsletter.objects.create(subject=subject, body=body)
        send_newsletter.delay_on_commit(newsletter.id)
    return newsletter
