"""A task for the outbox's tests: e-mails a note once per intent, like a real consumer."""

from celery import shared_task
from django.core.mail import send_mail

from outbox.consumer import once_per_intent


@shared_task(acks_late=True)
@once_per_intent
def send_note(recipient):
    send_mail("A note", "Sent through the outbox.", None, [recipient])
    return True
