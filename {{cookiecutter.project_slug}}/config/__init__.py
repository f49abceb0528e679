"""Load the Celery app with Django, so that @shared_task binds to it.

https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
"""

from .celery_app import app as celery_app

__all__ = ("celery_app",)
