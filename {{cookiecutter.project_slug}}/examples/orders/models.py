"""Orders, each confirmed by e-mail from a task that the outbox guarantees is sent."""

from django.conf import settings
from django.db import models


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True)
    # The address the confirmation went to: the user's own, as it was when they ordered.
    email = models.EmailField()
    item = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    placed_at = models.DateTimeField(auto_now_add=True)
    # Set by the confirmation task: empty while the e-mail is on its way.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Order {self.pk}: {self.quantity} × {self.item}"
