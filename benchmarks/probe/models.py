from django.db import models


class Order(models.Model):
    """What the web endpoints write, one row per request, in one transaction."""

    email = models.EmailField()
    item = models.CharField(max_length=100)
    placed_at = models.DateTimeField(auto_now_add=True)
