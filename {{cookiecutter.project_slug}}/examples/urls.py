"""The example apps' pages, under /examples/."""

from django.urls import include, path

urlpatterns = [
    path("orders/", include("examples.orders.urls")),
    path("reports/", include("examples.reports.urls")),
]
