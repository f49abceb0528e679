"""The relay: publishes the outbox's pending intents to the broker and marks them sent.

`python manage.py run_outbox_relay` runs it (compose's outbox-relay service). Each pass
is one database transaction:

1. lock up to OUTBOX_RELAY_BATCH_SIZE due pending intents, oldest first, skipping those
   another relay has locked (SELECT ... FOR UPDATE SKIP LOCKED), so that several relays
   can run at once without ever taking the same intent;
2. publish them all, each with its intent id as the task id, then wait once for the
   broker's confirms of the whole batch (outbox/confirms.py: publisher confirms, as
   CELERY_BROKER_TRANSPORT_OPTIONS asks, without a round trip per message);
3. mark the confirmed ones sent, and leave the unconfirmed ones pending; give a failed
   or refused one a later attempt, or mark it dead and alert the team once it has failed
   OUTBOX_MAX_ATTEMPTS times.

While the broker cannot be reached no intent is attempted, so none is used up: the relay
tries again after 1, 2, 4, then every 5 seconds, and the intents stay pending however
long that lasts.

Between passes it sleeps until outbox.enqueue's NOTIFY says an intent was committed
(LISTEN/NOTIFY: published within milliseconds, without polling), until a failed intent's
next attempt falls due, or for OUTBOX_RELAY_POLL_SECONDS at most, in case a notification
was missed while the relay was reconnecting to the database.

A relay that dies between steps 2 and 3 leaves its intents pending (its transaction never
commits, and its locks go with its connection): they are published again, and
outbox.consumer.once_per_intent turns the second delivery into a no-op.
"""

import logging
import signal
import time
from datetime import timedelta

import psycopg
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from background.heartbeat import heartbeat_file
from background.queues import declare as declare_queues

from . import notifications
from .confirms import BatchConfirms, Nacked
from .enqueue import CHANNEL
from .models import Intent

logger = logging.getLogger(__name__)

# Touched after every pass that reached the database; compose/common/heartbeat-healthcheck
# reads its age. The relay passes at least every OUTBOX_RELAY_POLL_SECONDS.
HEARTBEAT_FILE = heartbeat_file("outbox-relay")
# Seconds between tries while the broker is unreachable: 1, 2, 4, 5, 5, ...
BROKER_BACKOFF_MAX = 5
# The longest wait between two attempts at one intent that failed.
RETRY_BACKOFF_MAX = 60 * 60
# How long to wait for the broker to confirm a batch. Without a limit, a broker that
# vanished without closing the connection would hold the relay, and its locks, forever.
CONFIRM_TIMEOUT = 10


class Stop(BaseException):
    """Raised by the signal handler to end a wait at once. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` on the way swallows it."""


class Relay:
    def __init__(self, app, *, batch_size, poll_seconds, max_attempts, retry_seconds):
        self.app = app
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds
        self.broker = None  # a kombu Connection, opened when there is something to send
        self.producer = None
        self.confirms = None  # a BatchConfirms on RabbitMQ; Redis has no confirms
        self.listener = None  # a psycopg connection that LISTENs on CHANNEL
        self.busy = False  # publishing a batch: a stop signal waits for its end
        self.stopping = False

    @classmethod
    def from_settings(cls, app):
        return cls(
            app,
            batch_size=settings.OUTBOX_RELAY_BATCH_SIZE,
            poll_seconds=settings.OUTBOX_RELAY_POLL_SECONDS,
            max_attempts=settings.OUTBOX_MAX_ATTEMPTS,
            retry_seconds=settings.OUTBOX_RETRY_SECONDS,
        )

    def run(self):
        """Relay until SIGTERM or SIGINT; a batch being published is finished first."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        # send_task() applies a registered task's own options (its time limits, say), so
        # the tasks are imported here as in a worker.
        self.app.loader.import_default_modules()
        logger.info(
            "Outbox relay ready: batches of %d, polling every %s s at most, "
            "an intent is dead after %d failed attempts",
            self.batch_size,
            self.poll_seconds,
            self.max_attempts,
        )
        try:
            self.loop()
        except Stop:
            pass
        finally:
            self.close_broker()
            self.close_listener()
        logger.info("Outbox relay stopped")

    def stop(self, signum, frame):
        self.stopping = True
        if not self.busy:
            raise Stop

    def loop(self):
        broker_failures = 0
        while not self.stopping:
            try:
                # Replace a database connection that a restart of PostgreSQL broke.
                close_old_connections()
                self.listen()
                self.busy = True
                try:
                    taken = self.relay_batch()
                finally:
                    self.busy = False
            except BrokerUnreachable as error:
                broker_failures += 1
                delay = min(BROKER_BACKOFF_MAX, 2 ** (broker_failures - 1))
                logger.warning(
                    "The broker is unreachable (%s); the intents stay pending. "
                    "Trying again in %d s",
                    error,
                    delay,
                )
                self.close_broker()
                HEARTBEAT_FILE.touch()
                self.sleep(delay)
                continue
            except Exception:
                # The database is unreachable, or a bug: say so, and try again later.
                logger.exception("The outbox relay's pass failed; trying again shortly")
                self.close_listener()
                self.sleep(self.poll_seconds)
                continue
            broker_failures = 0
            HEARTBEAT_FILE.touch()
            if taken < self.batch_size:
                self.wait_for_work(self.seconds_until_next_due())

    def relay_batch(self):
        """Publish one batch of due intents; return how many it took."""
        # Notifications already received are for intents committed before the SELECT
        # below, which sees them: waiting for those notifications later would only
        # cause empty passes.
        self.drain_notifications()
        broker_error = None
        with transaction.atomic():
            intents = list(
                Intent.objects.select_for_update(skip_locked=True)
                .filter(status=Intent.Status.PENDING, next_attempt_at__lte=timezone.now())
                .order_by("next_attempt_at")[: self.batch_size]
            )
            published, failure, unknown = [], None, []
            for intent in intents:
                if intent.task_name not in self.app.tasks:
                    unknown.append(intent)  # a typo or a removed task: no retry can help
                    continue
                try:
                    self.publish(intent)
                except BrokerUnreachable as error:
                    broker_error = error  # the rest wait, unattempted, for the broker
                    break
                except Exception as error:
                    failure = intent, error
                    break
                published.append(intent)
            sent, refused, lost = self.confirmed(published)
            broker_error = broker_error or lost
            failures = [(intent, Nacked()) for intent in refused]
            if failure:
                failures.append(failure)
            dead = [intent for intent, error in failures if self.record_failure(intent, error)]
            dead += [
                intent
                for intent in unknown
                if self.record_failure(intent, NotRegistered(intent.task_name), final=True)
            ]
            if failure:
                # RabbitMQ closes a channel after an error on it: the next intent goes
                # out on a new connection, in the next pass.
                self.close_broker()
            # Marked sent even when the broker went away halfway: it confirmed these.
            Intent.objects.filter(pk__in=[intent.pk for intent in sent]).update(
                status=Intent.Status.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1
            )
        if sent:
            logger.info("Published %d intent(s)", len(sent))
        # After the commit: an alert takes network calls, never while rows are locked.
        for intent in dead:
            notifications.intent_dead(intent)
        if broker_error is not None:
            raise broker_error
        return len(intents)

    def publish(self, intent):
        """Send the intent's task without waiting for the broker's confirm."""
        self.connect()
        self.app.send_task(
            intent.task_name,
            args=intent.args,
            kwargs=intent.kwargs,
            task_id=str(intent.id),
            queue=intent.queue,
            producer=self.producer,
            # No retry inside Celery either: a failure ends this pass at once.
            retry=False,
            # connect() declared every queue on this connection: kombu would otherwise
            # check its cache of declared queues for each message, a tenth of its cost.
            declare=[],
        )
        if self.confirms is not None:
            self.confirms.published(intent)

    def connect(self):
        """Open the broker connection, unless it is open, and declare the task queues on it
        (publish() then skips kombu's check per message); on RabbitMQ, in confirm mode.

        py-amqp's own confirm_publish is off on this connection: it would wait for each
        message in turn, where BatchConfirms waits once for the batch.
        """
        if self.broker is not None and self.broker.connected:
            return
        self.close_broker()
        confirm = self.app.conf.broker_transport_options.get("confirm_publish", False)
        broker = self.app.connection_for_write(transport_options={"confirm_publish": False})
        # One try at each of the broker's URLs (a cluster's nodes, given as kombu's
        # "url;url;url" failover list), without sleeping in between: while none answers,
        # loop() waits and calls again, and meanwhile the relay still answers signals.
        # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.html#kombu.Connection.ensure_connection
        broker.ensure_connection(max_retries=max(len(broker.alt) - 1, 0))
        self.broker = broker
        declare_queues(self.app, self.app.amqp.queues.values(), broker)
        self.producer = self.app.amqp.Producer(broker, auto_declare=False)
        if confirm and broker.transport.driver_type == "amqp":
            self.confirms = BatchConfirms(broker.default_channel)

    def confirmed(self, published):
        """Wait for the broker's word on `published`: return (acked, nacked, error).

        Without confirms (Redis stores each message as the publish returns) all are
        acked. An error means the broker went away: what it did not confirm stays pending.
        """
        if self.confirms is None or not published:
            return published, [], None
        try:
            acked, nacked = self.confirms.wait(self.broker, CONFIRM_TIMEOUT)
            return acked, nacked, None
        except (TimeoutError, *self.broker.connection_errors, *self.broker.channel_errors) as error:
            acked = self.confirms.acked
            self.close_broker()
            return acked, [], BrokerUnreachable(f"confirms not received: {error}")

    def record_failure(self, intent, error, *, final=False):
        """Count a failed publish: later attempt, or dead (at once if `final`).
        Returns True when dead."""
        intent.attempts += 1
        intent.last_error = f"{type(error).__name__}: {error}"
        if final or intent.attempts >= self.max_attempts:
            intent.status = Intent.Status.DEAD
            logger.error(
                "Gave up intent %s (%s) after %d attempts: %s",
                intent.id,
                intent.task_name,
                intent.attempts,
                intent.last_error,
            )
        else:
            delay = min(RETRY_BACKOFF_MAX, self.retry_seconds * 2 ** (intent.attempts - 1))
            intent.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            logger.warning(
                "Could not publish intent %s (%s): %s. Attempt %d of %d; next in %d s",
                intent.id,
                intent.task_name,
                intent.last_error,
                intent.attempts,
                self.max_attempts,
                delay,
            )
        intent.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        return intent.status == Intent.Status.DEAD

    def seconds_until_next_due(self):
        """How long until a pending intent that no other relay holds is due (0: now)."""
        with transaction.atomic():
            upcoming = (
                Intent.objects.select_for_update(skip_locked=True)
                .filter(status=Intent.Status.PENDING)
                .order_by("next_attempt_at")
                .only("next_attempt_at")
                .first()
            )
        if upcoming is None:
            return self.poll_seconds
        until_due = (upcoming.next_attempt_at - timezone.now()).total_seconds()
        return min(self.poll_seconds, max(0.0, until_due))

    def listen(self):
        """Open the connection that LISTENs for new intents, unless it is open.

        A psycopg connection of its own: Django closes and replaces its connections as it
        sees fit, and a LISTEN lasts only as long as the connection that issued it.
        https://www.psycopg.org/psycopg3/docs/advanced/async.html#asynchronous-notifications
        """
        if self.listener is not None and not self.listener.closed:
            return
        self.listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self.listener.execute(f"LISTEN {CHANNEL}")

    def drain_notifications(self):
        if self.listener is None:
            return
        try:
            for _ in self.listener.notifies(timeout=0):
                pass
        except psycopg.Error:
            self.close_listener()

    def sleep(self, seconds):
        # A stop signal that came during a batch ends the relay now, not after a nap.
        if not self.stopping:
            time.sleep(seconds)

    def wait_for_work(self, seconds):
        """Sleep until an intent is committed, or for `seconds` at most."""
        if seconds <= 0 or self.stopping:
            return
        if self.listener is None:
            self.sleep(seconds)
            return
        try:
            for _ in self.listener.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.Error:
            logger.warning("Lost the connection that listens for new intents; reconnecting")
            self.close_listener()

    def close_broker(self):
        if self.broker is not None:
            # collect(): let go of the connection without talking to a broker that may be gone.
            self.broker.collect()
            self.broker = self.producer = self.confirms = None

    def close_listener(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None
