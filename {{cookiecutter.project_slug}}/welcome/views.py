"""The home page of a new project: what runs, and where to go next.

Strangers see only the site's name; the state of the servers is for development
(DEBUG) and for staff. Replace this app with your own home page when the site has one.
"""

from django.apps import apps
from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from .parts import all_parts


@never_cache
def home(request):
    if not (settings.DEBUG or request.user.is_staff):
        return render(request, "welcome/public.html")
    # An app adds itself to this page with a `welcome_links` attribute on its AppConfig:
    # a list of (label, URL name) pairs.
    links = [link for app in apps.get_app_configs() for link in getattr(app, "welcome_links", [])]
    context = {
        "parts": all_parts(),
        "app_links": links,
        "flower_url": settings.FLOWER_URL,
        "mailpit_url": getattr(settings, "MAILPIT_URL", ""),
    }
    return render(request, "welcome/home.html", context)
