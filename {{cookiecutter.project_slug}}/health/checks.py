"""Checks of the servers the site cannot work without. Each returns if the server
answered and raises if it did not, so that the health view can name what is down."""

from django.core.cache import cache
from django.db import connection

from config.celery_app import app as celery_app


def database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def cache_server():
    # A write and a read: a cache that accepts connections but cannot store is down too.
    cache.set("health:probe", "ok", timeout=10)
    if cache.get("health:probe") != "ok":
        raise RuntimeError("the cache did not return what was just stored in it")


def broker():
    # A fresh connection, not one from the pool: a pooled connection can look open after
    # the broker has gone. One attempt at each of the broker's URLs (a cluster's nodes)
    # and no retry (whoever calls the endpoint retries), each bounded by Celery's
    # broker_connection_timeout.
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.html#kombu.Connection.ensure_connection
    with celery_app.connection_for_write() as connection_:
        connection_.ensure_connection(max_retries=max(len(connection_.alt) - 1, 0))


# Name -> check, in the order they run. The names appear in the view's JSON body.
CHECKS = {"database": database, "cache": cache_server, "broker": broker}
