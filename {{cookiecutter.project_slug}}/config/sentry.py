"""Error reporting to Sentry for the web and worker processes (production only).

Nothing is sent unless SENTRY_DSN is set, so a staging copy without it stays quiet.
https://docs.sentry.io/platforms/python/integrations/django/
https://docs.sentry.io/platforms/python/integrations/celery/
"""

import logging

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration


def init_sentry(env):
    dsn = env("SENTRY_DSN", default="")
    if not dsn:
        return
    monitor_beat_tasks = env.bool("SENTRY_MONITOR_BEAT_TASKS", default=False)
    sentry_sdk.init(
        dsn=dsn,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
        integrations=[
            DjangoIntegration(),
            # Report beat schedules as Sentry cron monitors when asked to.
            CeleryIntegration(monitor_beat_tasks=monitor_beat_tasks),
            # Log records of ERROR and above become Sentry events; INFO and up are breadcrumbs.
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
