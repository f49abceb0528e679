from django.contrib import admin, messages
from django.db import transaction

from .models import Delivery, Newsletter
from .tasks import send_newsletter


@admin.register(Newsletter)
class NewsletterAdmin(admin.ModelAdmin):
    list_display = ["subject", "created_at"]
    actions = ["send"]

    @admin.action(description="Send the selected newsletters", permissions=["change"])
    def send(self, request, queryset):
        # Through the outbox, as every page enqueues: the action works while the broker
        # is down, and send_newsletter is safe to run twice (services.create_deliveries).
        with transaction.atomic():
            for newsletter in queryset:
                send_newsletter.delay_in_outbox(newsletter.id)
        messages.success(request, f"Sending {queryset.count()} newsletter(s).")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["newsletter", "recipient", "status", "sent_at"]
    list_filter = ["status", "newsletter"]
