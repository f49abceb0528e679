"""The order confirmation task: sent through the outbox, effective once per intent.

Lessons: a task that must not be lost is written to the outbox in the transaction that
makes it necessary (orders/services.py); a task sent through the outbox can arrive twice,
so once_per_intent records its intent id and makes a second delivery a no-op.
"""

import smtplib

from celery import shared_task

from outbox.consumer import once_per_intent

from . import services


@shared_task(acks_late=True, autoretry_for=(smtplib.SMTPException, ConnectionError))
@once_per_intent
def send_order_confirmation(order_id):
    """E-mail the order's confirmation, once, however often the message arrives.

    acks_late is safe because of once_per_intent: a delivery cut short by a dead worker
    rolled its record back and runs again, and a complete one cannot run twice. A mail
    server that fails is retried with the base task's backoff.
    """
    return services.send_confirmation(order_id)
