"""The site's URLs: the welcome page, the admin, sign-in and the health probe."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("welcome.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("users.urls")),
    path("health/", include("health.urls")),
{%- if cookiecutter.include_examples == "y" %}
    path("examples/", include("examples.urls")),
{%- endif %}
]
