"""Settings shared by every environment, read from environment variables.

local.py, test.py and production.py start from these and change only what differs.
Every value that varies between machines (secrets, URLs) comes from the environment:
`.env` in development (compose passes it to each container), real environment
variables in production. See README.md for the full list.
"""

from datetime import timedelta
from pathlib import Path

import environ

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
    "users",
    "reports",
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
# Reuse a connection for a minute instead of opening one per request or task;
# health checks make a reused connection safe after a database restart.
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's docs advise a custom user model for every new project: changing it later is hard.
# https://docs.djangoproject.com/en/5.2/topics/auth/customizing/#using-a-custom-user-model-when-starting-a-project
AUTH_USER_MODEL = "users.User"

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
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="noreply@{{ cookiecutter.domain_name }}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [({{ cookiecutter.author_name | tojson }}, {{ cookiecutter.email | tojson }})]

# One format for web and worker processes; Celery's own loggers add the task name and id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# ---------------------------------------------------------------------------
# Celery: every setting below is read by config/celery_app.py through the CELERY_
# prefix. https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
CELERY_TIMEZONE = TIME_ZONE

# amqp://... for RabbitMQ, redis://... for Redis.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-url
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
# Keep retrying when the broker is not up yet at start-up (compose starts services in parallel).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-retry-on-startup
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # RabbitMQ: wait for the broker to confirm each published message, so that a task
    # delay() reported as sent is really in the queue. Without it, messages in flight
    # when the broker dies are lost silently. Ignored by the Redis transport.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.pyamqp.html
    "confirm_publish": True,
    # Redis: a message a worker took but did not acknowledge goes back to the queue
    # after this many seconds. It must exceed the longest countdown/ETA the project uses,
    # or such a task runs twice. Ignored by RabbitMQ, which tracks unacked messages itself.
    # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=12 * 60 * 60),
}

# JSON only: a worker that accepts pickle runs whatever code a message carries.
# https://docs.celeryq.dev/en/stable/userguide/security.html#serializers
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]

# Tasks go to the "default" queue unless routed elsewhere.
# https://docs.celeryq.dev/en/stable/userguide/routing.html
CELERY_TASK_DEFAULT_QUEUE = "default"

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
# Store the task name, arguments and worker with each result (shown in the admin).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-extended
CELERY_RESULT_EXTENDED = True
# Report STARTED while a task runs, so a status page can tell queued from running.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-track-started
CELERY_TASK_TRACK_STARTED = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#result-expires
CELERY_RESULT_EXPIRES = timedelta(days=7)

# Events let Flower show tasks as they are sent, start and finish.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-send-task-events
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True

# Take one message at a time per process: long tasks then do not hold short ones
# back behind them in a worker's prefetch buffer.
# https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Replace a worker process after this many tasks, bounding slow memory leaks.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-max-tasks-per-child
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1000

# Periodic tasks live in the database (django-celery-beat), editable in the admin.
# https://django-celery-beat.readthedocs.io/en/latest/
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
