"""The site's URLs: the admin, and the example app at the root."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", include("health.urls")),
    path("orders/", include("orders.urls")),
    path("", include("reports.urls")),
]
