"""Purchases earn loyalty points, awarded by a task exactly once per purchase."""

from django.conf import settings
from django.db import models


class Purchase(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} paid {self.amount}"


class PointsEntry(models.Model):
    """The points one purchase earned.

    One entry per purchase, enforced by the database (OneToOneField is unique): this is
    what makes awarding idempotent. A second attempt for the same purchase cannot add a
    second entry, however the message came to run twice.
    """

    purchase = models.OneToOneField(Purchase, on_delete=models.CASCADE, related_name="points")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    points = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "points entries"

    def __str__(self):
        return f"{self.points} points for purchase {self.purchase_id}"


class Balance(models.Model):
    """A user's points total, kept equal to the sum of their entries."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True
    )
    points = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.user}: {self.points} points"
