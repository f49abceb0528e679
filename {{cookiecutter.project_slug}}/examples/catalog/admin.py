from django.contrib import admin, messages

from . import services
from .models import FeedSurvey, ImportRun, Product, Supplier


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "feed_url"]
    actions = ["import_feeds"]

    @admin.action(description="Import the selected suppliers' feeds", permissions=["change"])
    def import_feeds(self, request, queryset):
        for supplier in queryset:
            services.start_import(supplier)
        messages.success(request, f"Started {queryset.count()} import(s).")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "supplier", "updated_at"]
    list_filter = ["supplier"]


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["id", "supplier", "status", "products_written", "started_at", "finished_at"]
    list_filter = ["status", "supplier"]


@admin.register(FeedSurvey)
class FeedSurveyAdmin(admin.ModelAdmin):
    list_display = ["id", "total_items", "created_at"]
