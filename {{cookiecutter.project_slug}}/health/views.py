"""The health endpoint: can this web process reach the database, the cache and the broker?

Compose's healthcheck for the web container calls it (compose/*/django/healthcheck), and
so can a load balancer or an uptime monitor. It answers 200 when every check passes and
503 when any fails, with a small JSON body naming what is down:

    {"status": "ok", "down": []}
    {"status": "down", "down": ["broker"]}

Why a check failed goes to the log, not into the body: an error message can hold a host
name or a URL that a public endpoint must not show.
"""

import logging

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .checks import CHECKS

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def health(request):
    down = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            # One line, not a traceback: a healthcheck repeats every few seconds.
            logger.warning("Health check failed: %s: %r", name, error)
            down.append(name)
    return JsonResponse(
        {"status": "down" if down else "ok", "down": down}, status=503 if down else 200
    )
