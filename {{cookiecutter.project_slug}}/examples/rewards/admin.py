from django.contrib import admin

from .models import Balance, PointsEntry, Purchase


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "amount", "created_at"]


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    list_display = ["purchase", "user", "points", "created_at"]


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ["user", "points"]
