"""Suppliers publish product feeds; imports copy them into the catalog."""

from django.db import models


class Supplier(models.Model):
    name = models.CharField(max_length=200)
    feed_url = models.URLField(help_text="JSON: {'products': [{'sku', 'name', 'price'}, ...]}")

    def __str__(self):
        return self.name


class Product(models.Model):
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="products")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["supplier", "sku"], name="unique_sku_per_supplier")
        ]

    def __str__(self):
        return f"{self.sku} {self.name}"


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="imports")
    status = models.CharField(max_length=20, choices=Status, default=Status.RUNNING)
    products_written = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Import {self.pk} of {self.supplier}: {self.status}"


class FeedSurvey(models.Model):
    """How many products every supplier's feed offered, counted in parallel."""

    total_items = models.PositiveIntegerField()
    items_per_supplier = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Survey of {self.created_at:%Y-%m-%d %H:%M}: {self.total_items} products"
