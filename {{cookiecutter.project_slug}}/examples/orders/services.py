"""Placing an order and confirming it: the logic the view and the task call."""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Order

logger = logging.getLogger(__name__)


def place_order(user, item, quantity):
    """Save an order and make sure its confirmation e-mail goes out.

    The confirmation task is written to the outbox in the order's own transaction: if the
    order commits, so does the task, even when the broker is down at that moment (the
    relay sends it once the broker is back); if the order rolls back, there is no task.
    delay_on_commit() would lose the e-mail of an order committed while the broker was
    unreachable, and delay() would send one for an order that then rolled back.
    """
    from .tasks import send_order_confirmation  # here, not above: tasks.py imports this module

    with transaction.atomic():
        order = Order.objects.create(user=user, email=user.email, item=item, quantity=quantity)
        send_order_confirmation.delay_in_outbox(order.id)
    return order


def send_confirmation(order_id):
    """E-mail the customer that the order is confirmed, and record when.

    Returns False when the order no longer exists (deleted after it was placed).
    """
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        logger.info("Order %s no longer exists: no confirmation to send", order_id)
        return False
    send_mail(
        subject=f"Order {order.pk} confirmed",
        message=f"Thank you. We have your order of {order.quantity} × {order.item}.",
        from_email=None,
        recipient_list=[order.email],
    )
    Order.objects.filter(pk=order.pk).update(confirmation_sent_at=timezone.now())
    return True
