"""kombu's Redis transport, with one fix: a released connection fails as a connection error.

When a Redis broker goes away, the worker releases its broker connection and connects
again. A channel of the released connection can still be asked to reach Redis: to put
back the messages it held while it is being closed, or to acknowledge a task that
finishes after the reconnect. kombu's Redis channel then builds its connection settings
from a connection that no longer exists and raises AttributeError ("'NoneType' object
has no attribute 'hostname'"). Celery expects a connection error at those points, logs
it and carries on; any other error it treats as unrecoverable, and the whole worker
exits, abandoning every task it holds (the template's fault tests caught both paths).

Here the same situation raises redis-py's ConnectionError, which kombu lists among the
Redis transport's connection errors, so Celery handles it as it does for RabbitMQ.
Nothing is lost: messages that could not be put back or acknowledged are still
unacknowledged in Redis, and are delivered again after the visibility timeout.

Selected by CELERY_BROKER_TRANSPORT in config/settings/base.py when the broker is Redis.
https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-transport
"""

from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel was released")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    Channel = Channel
