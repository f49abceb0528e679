"""Production settings: HTTPS only, static files through WhiteNoise, errors to the admins.

Every secret comes from the environment; nothing here has a usable default.
"""

from .base import *  # noqa: F403
from .base import MIDDLEWARE, env

DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["{{ cookiecutter.domain_name | lower }}"])

# WhiteNoise serves compressed, forever-cached static files straight from the web process.
# https://whitenoise.readthedocs.io/en/stable/django.html
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS, assuming a proxy in front that terminates TLS and sets X-Forwarded-Proto.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
{%- if cookiecutter.use_sentry == "y" %}

from config.sentry import init_sentry  # noqa: E402

init_sentry(env)
{%- endif %}
