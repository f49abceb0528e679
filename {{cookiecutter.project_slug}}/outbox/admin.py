"""The outbox in the admin: intents by status, how long the oldest pending one has
waited, and re-queueing dead intents once what killed them is fixed."""

from django.contrib import admin, messages
from django.db.models import Count, Min, Q
from django.utils import timezone

from .enqueue import requeue
from .models import Intent, ProcessedIntent


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ["task_name", "status", "queue", "attempts", "created_at", "sent_at", "id"]
    list_filter = ["status", "task_name", "queue"]
    search_fields = ["id", "task_name"]
    ordering = ["-created_at"]
    actions = ["requeue_dead"]

    # Intents are records of work the code asked for: the admin reads them and re-queues
    # dead ones, but neither writes nor edits them by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        backlog = Intent.objects.aggregate(
            pending=Count("id", filter=Q(status=Intent.Status.PENDING)),
            dead=Count("id", filter=Q(status=Intent.Status.DEAD)),
            oldest_pending=Min("created_at", filter=Q(status=Intent.Status.PENDING)),
        )
        extra_context = {**(extra_context or {}), "backlog": backlog, "now": timezone.now()}
        return super().changelist_view(request, extra_context)

    # The action changes intents, so it needs the model's change permission, which this
    # admin otherwise leaves unused.
    def has_requeue_permission(self, request):
        return request.user.has_perm("outbox.change_intent")

    @admin.action(description="Re-queue the selected dead intents", permissions=["requeue"])
    def requeue_dead(self, request, queryset):
        if skipped := queryset.exclude(status=Intent.Status.DEAD).count():
            self.message_user(
                request, f"Skipped {skipped} intent(s) that are not dead.", messages.WARNING
            )
        requeued, refused = requeue(queryset)
        for intent, reason in refused:
            self.message_user(request, f"Not re-queued {intent}: {reason}.", messages.ERROR)
        if requeued:
            self.message_user(
                request, f"Re-queued {len(requeued)} intent(s); the relay sends them now."
            )


@admin.register(ProcessedIntent)
class ProcessedIntentAdmin(admin.ModelAdmin):
    list_display = ["intent_id", "task_name", "processed_at"]
    list_filter = ["task_name"]
    search_fields = ["intent_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
