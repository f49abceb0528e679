"""Settings shared by every environment, read from environment variables.

local.py, test.py and production.py start from these and change only what differs.
Every value that varies between machines (secrets, URLs) comes from the environment:
`.env` in development (compose passes it to each container), real environment
variables in production. See README.md for the full list.
"""

from datetime import timedelta
from pathlib import Path

import environ
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_celery_results",
    "background",
    "alerts",
    "users",
    "outbox",
    "scheduling",
    "health",
    "welcome",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {"default": env.db("DATABASE_URL")}
# Reuse a connection for a minute instead of opening one per request or task (for
# tasks, see CELERY_DB_REUSE_MAX); health checks make a reused connection safe after a
# database restart.
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# /health/ (health/views.py): how long a process reuses its last outcome, and which
# callers (compose's healthchecks run inside the container) are told what is down.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5)
HEALTH_DETAILS_FROM = env.list("HEALTH_DETAILS_FROM", default=["127.0.0.1", "::1"])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's docs advise a custom user model for every new project: changing it later is hard.
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
AUTH_USER_MODEL = "users.User"
# https://docs.djangoproject.com/en/5.2/ref/settings/#login-url
LOGIN_URL = "users:login"
LOGIN_REDIRECT_URL = "welcome:home"
LOGOUT_REDIRECT_URL = "welcome:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("REDIS_URL"),
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "{{ cookiecutter.timezone }}"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files the site writes, such as the CSV exports built by workers. Web and worker
# processes must share this directory (in compose, the bind-mounted code directory).
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "media")

# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url
# smtp://host:port in development (Mailpit), your provider's SMTP URL in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_HOST = EMAIL_CONFIG.get("EMAIL_HOST", "")
EMAIL_PORT = EMAIL_CONFIG.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = EMAIL_CONFIG.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = EMAIL_CONFIG.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = EMAIL_CONFIG.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL_CONFIG.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="noreply@{{ cookiecutter.domain_name | lower }}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Seconds before a mail server that stopped answering fails the send, instead of holding
# a worker or the outbox relay forever.
# https://docs.djangoproject.com/en/5.2/ref/settings/#email-timeout
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=10)
# Error reports hide passwords inside URL-valued settings too (config/error_reports.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.ReporterFilter"
ADMINS = [({{ cookiecutter.author_name | tojson }}, {{ cookiecutter.email | tojson }})]

# One format for web and worker processes. Inside a task, every line also names the
# task, its id and its retry count (background/log_context.py). Celery's own lines about
# each task leave out its return value and arguments (background/log_results.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "task_context": {"()": "background.log_context.TaskContextFilter"},
        "hide_task_results": {"()": "background.log_results.HideTaskResults"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(task)s%(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["task_context"],
        },
    },
    "loggers": {"celery.app.trace": {"filters": ["hide_task_results"]}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# Failure alerts (alerts/): e-mail to ADMINS and, when set, a Slack-compatible webhook.
# Alerts of the same kind within the window are counted, not sent again.
SITE_URL = env("DJANGO_SITE_URL", default="http://localhost:8000")
FLOWER_URL = env("FLOWER_URL", default="http://localhost:5555")
ALERTS_WEBHOOK_URL = env("ALERTS_WEBHOOK_URL", default="")
# Task arguments often name people; the webhook's chat service gets them only if set.
ALERTS_WEBHOOK_ARGUMENTS = env.bool("ALERTS_WEBHOOK_ARGUMENTS", default=False)
ALERTS_WINDOW_SECONDS = env.int("ALERTS_WINDOW_SECONDS", default=15 * 60)
# A queue holding more than this many messages for this long raises an alert.
QUEUE_DEPTH_ALERT_THRESHOLD = env.int("QUEUE_DEPTH_ALERT_THRESHOLD", default=1000)
QUEUE_DEPTH_ALERT_AFTER_SECONDS = env.int("QUEUE_DEPTH_ALERT_AFTER_SECONDS", default=5 * 60)

# The transactional outbox (outbox/, docs/outbox.md): the relay publishes up to a batch
# of intents per transaction, waits for a NOTIFY or at most the poll interval between
# passes, and gives an intent up (dead, with an alert) after this many failed publishes,
# waiting OUTBOX_RETRY_SECONDS, then twice as long each time, between them. An outage
# of the broker is waited out and counts as no attempt. Sent intents, and consumers'
# records of processed ones, are deleted after OUTBOX_KEEP_DAYS.
OUTBOX_RELAY_BATCH_SIZE = env.int("OUTBOX_RELAY_BATCH_SIZE", default=500)
OUTBOX_RELAY_POLL_SECONDS = env.float("OUTBOX_RELAY_POLL_SECONDS", default=10.0)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=5)
OUTBOX_RETRY_SECONDS = env.int("OUTBOX_RETRY_SECONDS", default=10)
OUTBOX_KEEP_DAYS = env.int("OUTBOX_KEEP_DAYS", default=7)

# ---------------------------------------------------------------------------
# Celery: every setting below is read by config/celery_app.py through the CELERY_
# prefix. https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
CELERY_TIMEZONE = TIME_ZONE

# amqp://... for RabbitMQ, redis://... for Redis.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with one fix, so that a worker survives Redis going away
    # while it holds tasks (background/redis_broker.py says how).
    # https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport
    CELERY_BROKER_TRANSPORT = "background.redis_broker:Transport"
# Keep retrying when the broker is not up yet at start-up (compose starts services in parallel).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-retry-on-startup
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds to wait for one connection to the broker (Celery's default).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-timeout
CELERY_BROKER_CONNECTION_TIMEOUT = 4
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # RabbitMQ: wait for the broker to confirm each published message, so that a task
    # delay() reported as sent is really in the queue. Without it, messages in flight
    # when the broker dies are lost silently. Ignored by the Redis transport.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.pyamqp.html
    "confirm_publish": True,
    # Redis: a message a worker took but did not acknowledge goes back to the queue
    # after this many seconds. It must exceed the longest countdown/ETA the project uses
    # (retry delays stop at 12.5 minutes, background/base.py), or such a task runs
    # twice. Ignored by RabbitMQ, which tracks unacked messages itself.
    # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=12 * 60 * 60),
    # Redis: look for such messages every 10 s instead of kombu's default of every 100 s
    # (one cheap sorted-set query per worker). Ignored by RabbitMQ.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
    "unacked_restore_throttle": 1,
    # A broker URL may list several servers, separated by ";" (a RabbitMQ cluster's
    # nodes): kombu tries them in turn. It gives the whole round one connect timeout
    # (CELERY_BROKER_CONNECTION_TIMEOUT), so a node that does not answer at all would
    # use it up before the next was tried; give each server its own.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.html#kombu.Connection.default_channel
    "connect_retries_timeout": CELERY_BROKER_CONNECTION_TIMEOUT * len(CELERY_BROKER_URL.split(";")),
}

# JSON only: a worker that accepts pickle runs whatever code a message carries.
# https://docs.celeryq.dev/en/stable/userguide/security.html#serializers
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]

# ---------------------------------------------------------------------------
# Queues and routes. Each queue has its own worker service in compose.yaml, so a flood
# of bulk work never delays a user's e-mail.
# https://docs.celeryq.dev/en/stable/userguide/routing.html
# ---------------------------------------------------------------------------
DEAD_LETTER_QUEUE = "dead_letter"
# A task message delivered this many times without being acknowledged (its worker
# process died on it each time, say) is dead-lettered on the next return instead of
# being delivered again. RabbitMQ 4 would otherwise stop at 20.
# https://www.rabbitmq.com/docs/quorum-queues#poison-message-handling
RABBITMQ_DELIVERY_LIMIT = env.int("RABBITMQ_DELIVERY_LIMIT", default=5)
# How long, in seconds, a worker may hold a late-ack task unacknowledged before RabbitMQ
# closes its channel and delivers the task again. Set on each queue, so broker and
# `manage.py check` (which flags a late-ack hard time limit that reaches it, see
# background/system_checks.py) read the same number.
# https://www.rabbitmq.com/docs/consumers#acknowledgement-timeout
RABBITMQ_CONSUMER_TIMEOUT = env.int("RABBITMQ_CONSUMER_TIMEOUT", default=30 * 60)


def task_queue(name):
    """A durable queue whose rejected and failed messages are dead-lettered.

    On RabbitMQ these are quorum queues: replicated, durable, and what RabbitMQ now
    recommends for queues that must not lose messages. Their topic exchange lets Celery
    delay countdown/ETA tasks inside the broker instead of holding them in a worker.
    https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/rabbitmq.html#using-quorum-queues
    A message that is rejected (an unknown task, a pickle or undecodable body), whose
    late-ack task fails for good, or that reaches RABBITMQ_DELIVERY_LIMIT goes to
    DEAD_LETTER_QUEUE, for a person to inspect. Dead-lettering is at-least-once: the
    message leaves this queue only once the dead-letter queue has confirmed it (which
    needs the reject-publish overflow; no length limit is set, so nothing is refused).
    https://www.rabbitmq.com/docs/quorum-queues#dead-lettering
    The Redis transport ignores these arguments: Redis has no quorum queues and no
    dead-lettering, so there a rejected message is dropped (and logged by the worker).
    """
    return Queue(
        name,
        Exchange(name, type="topic"),
        routing_key=name,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            "x-delivery-limit": RABBITMQ_DELIVERY_LIMIT,
            "x-consumer-timeout": RABBITMQ_CONSUMER_TIMEOUT * 1000,
        },
    )


CELERY_TASK_QUEUES = [
    task_queue("default"),  # everything not routed elsewhere
    task_queue("priority"),  # short, user-facing work: a person is waiting for it
    task_queue("bulk"),  # long or CPU-heavy work, one task at a time per process
]
CELERY_TASK_DEFAULT_QUEUE = "default"
# Routes by task name, so that call sites never name a queue: e.g.
# {"billing.tasks.send_invoice": {"queue": "priority"}}.
CELERY_TASK_ROUTES = {}
# A task routed to a queue that is not declared above fails when it is sent, instead
# of silently creating a queue that no worker consumes.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-create-missing-queues
CELERY_TASK_CREATE_MISSING_QUEUES = False
# A late-ack task that fails for good is rejected, so RabbitMQ dead-letters it.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-on-failure
CELERY_TASK_ACKS_ON_FAILURE = False
# A late-ack task killed by its hard time limit is acknowledged (and reported as a
# failure): rejecting it would put it back in the queue to time out again, forever.
# Keep every hard time limit under RABBITMQ_CONSUMER_TIMEOUT (30 minutes by default),
# or RabbitMQ closes the channel of a late-ack task still running and delivers it again.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-on-timeout
CELERY_TASK_ACKS_ON_TIMEOUT = True
# Undecodable messages (broken JSON, raw bytes) are dead-lettered instead of dropped.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-consumer
CELERY_WORKER_CONSUMER = "background.consumer:DeadLetteringConsumer"
# A late-ack task whose worker process is killed goes back to the queue. Only tasks
# that are safe to run twice set acks_late=True (see background/base.py's docs).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-reject-on-worker-lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True

# A task that hangs must not hold a worker forever. The soft limit raises
# SoftTimeLimitExceeded inside the task so it can clean up; the hard limit kills it.
# Tasks that need longer set their own limits.
# https://docs.celeryq.dev/en/stable/userguide/workers.html#time-limits
CELERY_TASK_SOFT_TIME_LIMIT = 5 * 60
CELERY_TASK_TIME_LIMIT = 6 * 60

# Results: "django-db" keeps them in PostgreSQL (the admin shows them), a redis:// URL
# keeps them in Redis. Storing a result costs a write per task, so tasks store none
# unless they opt in with ignore_result=False: only for results someone reads.
# https://docs.celeryq.dev/en/stable/userguide/tasks.html#ignore-results-you-don-t-want
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND")
CELERY_TASK_IGNORE_RESULT = True
# But store every failure (and each retry's state): the admin can re-send a failed task
# and failure alerts link to it. A task that retried, then succeeded, keeps RETRY.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-store-errors-even-if-ignored
CELERY_TASK_STORE_ERRORS_EVEN_IF_IGNORED = True
# Store the task name, arguments and worker with each result (shown in the admin).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-extended
CELERY_RESULT_EXTENDED = True
# Report STARTED while a task runs, so a status page can tell queued from running.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-track-started
CELERY_TASK_TRACK_STARTED = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-expires
CELERY_RESULT_EXPIRES = timedelta(days=7)

# Task events (received, started, succeeded: three messages per task) are for a monitor.
# Workers start without them, and Flower turns them on within 5 s of starting (its
# enable_events, on by default), so a worker nobody watches does not pay for them.
# https://docs.celeryq.dev/en/stable/userguide/monitoring.html#events
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=False)
# No `task-sent` event: a second message, confirmed, for every task sent, for a state
# (SENT) that Flower shows only until a worker receives the task (docs/benchmarks.md).
CELERY_TASK_SEND_SENT_EVENT = False

# Celery's Django fix-up closes the database connection before and after every task
# unless this is set; opening a new one per task cost more CPU than all the rest of a
# small task (see docs/benchmarks.md). With it, config/celery_app.py applies
# CONN_MAX_AGE and the health check around each task, as Django does per request.
CELERY_DB_REUSE_MAX = 1000

# Take one message at a time per process: long tasks then do not hold short ones
# back behind them in a worker's prefetch buffer.
# https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Pool processes are not replaced after a number of tasks (Celery's default): a
# replacement can hold the task sent next back by 2 to 5 seconds (celery/celery#9579,
# and docs/benchmarks.md). The worker start scripts bound memory instead, replacing a
# process only once it has grown (--max-memory-per-child), and pass --max-tasks-per-child
# when CELERY_WORKER_MAX_TASKS_PER_CHILD is set (50 for the bulk worker's heavy tasks).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-max-tasks-per-child

# Periodic tasks live in the database (django-celery-beat), editable in the admin; the
# ones the project ships are declared in scheduling/schedules.py. The scheduler is
# django-celery-beat's DatabaseScheduler plus a heartbeat (scheduling/beat.py).
# https://django-celery-beat.readthedocs.io/en/latest/
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#beat-scheduler
CELERY_BEAT_SCHEDULER = "scheduling.beat:HeartbeatScheduler"
# Write each task's last run time and run count after every send (one small UPDATE),
# not every 3 minutes, so that the admin and the beat-status page are current.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#beat-sync-every
CELERY_BEAT_SYNC_EVERY = 1
# The beat-status page calls beat stale when its heartbeat is older than this. Beat
# wakes at least every 5 seconds and writes the heartbeat each time.
BEAT_HEARTBEAT_STALE_AFTER = timedelta(seconds=env.int("BEAT_HEARTBEAT_STALE_SECONDS", default=30))
{%- if cookiecutter.include_examples == "y" %}

# ---------------------------------------------------------------------------
# The example apps: examples/README.md says what each teaches. To remove them, delete
# this block, the examples/ line in config/urls.py and the examples/ folder.
# ---------------------------------------------------------------------------
INSTALLED_APPS += [
    "examples.catalog",
    "examples.newsletter",
    "examples.orders",
    "examples.reports",
    "examples.rewards",
]
CELERY_TASK_ROUTES |= {
    "examples.newsletter.tasks.send_welcome_email": {"queue": "priority"},
    "examples.orders.tasks.send_order_confirmation": {"queue": "priority"},
    "examples.reports.tasks.build_signup_export": {"queue": "bulk"},
}
{%- endif %}
