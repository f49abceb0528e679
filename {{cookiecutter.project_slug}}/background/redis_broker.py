"""kombu's Redis transport, where a channel of a released connection fails as a connection error.

After Redis goes away, Celery may still close, or acknowledge a late task through, a
channel of the connection it released. kombu then raises AttributeError ("'NoneType'
object has no attribute 'hostname'", as in celery/kombu#582), which ends the worker; a
connection error is logged and survived, and the messages come back after the
visibility timeout. Selected by CELERY_BROKER_TRANSPORT; template docs:
patterns/redis-broker.md.
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
