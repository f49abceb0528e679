"""The health endpoint: can this web process reach the database, the cache and the broker?

Compose's healthcheck for the web container calls it (compose/*/django/healthcheck), and
so can a load balancer or an uptime monitor. It answers 200 when every check passes and
503 when any fails:

    {"status": "ok"}                          to anyone
    {"status": "down", "down": ["broker"]}    to callers in HEALTH_DETAILS_FROM only

The outcome is kept for HEALTH_CACHE_SECONDS, so a flood of requests opens at most one
broker connection per process in that time. Why a check failed goes to the log, never
into the body: an error message can hold a host name or a URL.
"""

import logging
import time

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .checks import CHECKS

logger = logging.getLogger(__name__)

# This process's last outcome: {"at": monotonic time, "down": [names]}.
recent = {}


def servers_down():
    if recent and time.monotonic() - recent["at"] < settings.HEALTH_CACHE_SECONDS:
        return recent["down"]
    down = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            # One line, not a traceback: a healthcheck repeats every few seconds.
            logger.warning("Health check failed: %s: %r", name, error)
            down.append(name)
    recent.update(at=time.monotonic(), down=down)
    return down


@never_cache
@require_safe
def health(request):
    down = servers_down()
    body = {"status": "down" if down else "ok"}
    if request.META.get("REMOTE_ADDR") in settings.HEALTH_DETAILS_FROM:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
