from django.contrib import admin

from .models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "item", "quantity", "placed_at", "confirmation_sent_at"]
    search_fields = ["email"]
