"""A newsletter is delivered by one task per recipient, each recorded as a Delivery."""

from django.conf import settings
from django.db import models


class Newsletter(models.Model):
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.subject


class Delivery(models.Model):
    """One newsletter to one recipient. Unique per pair, so a re-run cannot add another."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"

    newsletter = models.ForeignKey(Newsletter, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["newsletter", "recipient"], name="one_delivery_per_recipient"
            )
        ]

    def __str__(self):
        return f"{self.newsletter} to {self.recipient}: {self.status}"
