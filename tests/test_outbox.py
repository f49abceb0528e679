"""The transactional outbox, proven with the project's own processes on real servers.

For each broker, a generated project runs its web server, a worker for the `priority`
queue (where order confirmations are routed) and outbox relays, each through its
compose/local start script; e-mail goes to a real SMTP server in this process, so that
every confirmation sent is counted. The tests kill the broker, kill a relay with SIGKILL
between its publish and its commit, run two relays over the same intents, roll an order
back and give an intent a queue that no longer exists.
"""

import os
import re
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes

import pytest
import requests
from aiosmtpd.controller import Controller
from kombu import Connection
from kombu.exceptions import ChannelError

from tests import services
from tests.projects import Project
from tests.site_users import PASSWORD, create_user_code, sign_in

# Orders need a signed-in user; confirmations go to their address.
BUYER = "buyer"
FIND_BUYER = "buyer = get_user_model().objects.get(username='buyer')\n"
CONFIRMATION = re.compile(r"^Order (\d+) confirmed$")
DUPLICATE = "already processed: this delivery does nothing"


class Inbox:
    """An SMTP server's handler that keeps the subject of every message it accepts."""

    def __init__(self):
        self.subjects = []

    async def handle_DATA(self, server, session, envelope):
        subject = message_from_bytes(envelope.content)["Subject"]
        self.subjects.append(" ".join(subject.split()))  # unfolded: long ones span lines
        return "250 Message accepted"

    def confirmations(self):
        """How many confirmation e-mails each order number received."""
        return Counter(
            int(match[1])
            for subject in list(self.subjects)
            if (match := CONFIRMATION.match(subject))
        )


class OutboxProject(Project):
    """A project with its web server, the `priority` worker and outbox relays."""

    def __init__(self, *args):
        super().__init__(*args)
        self.inbox = None
        self.relays = []

    @property
    def worker(self):
        return self.workers.get("priority")

    def ensure_worker(self):
        if self.worker is None or self.worker.process.poll() is not None:
            # Sending a mail is mostly waiting for the SMTP server: 4 processes overlap it.
            self.start_worker("priority", CELERY_WORKER_CONCURRENCY="4")

    def stop_worker(self):
        if self.worker is not None:
            self.stop([self.worker])

    def start_relay(self, **env):
        relay = self.start("outbox/start", "relay", **env)
        relay.wait_for_log("Outbox relay ready", timeout=60)
        self.relays.append(relay)
        return relay

    def stop_relays(self):
        self.stop(self.relays)
        self.relays = []

    def place_orders(self, count):
        """Place `count` orders as the view does, one transaction each; return their ids."""
        output = self.shell(
            "from django.contrib.auth import get_user_model\n"
            "from examples.orders.services import place_order\n"
            f"{FIND_BUYER}"
            f"print(*[place_order(buyer, 'Teapot', 1).pk for _ in range({count})])"
        )
        return [int(pk) for pk in output.split()]

    def count(self, query):
        return int(self.sql(query))

    def intents(self, status):
        return self.count(f"SELECT count(*) FROM outbox_intent WHERE status = '{status}'")

    def queued(self):
        """Messages waiting in the priority queue, as the broker itself counts them."""
        with Connection(self.env["CELERY_BROKER_URL"]) as connection:
            try:
                declared = connection.default_channel.queue_declare("priority", passive=True)
            except ChannelError:  # on Redis, an empty queue does not exist
                return 0
            return declared.message_count

    def wait_until_confirmed(self, order_ids, timeout=90):
        def confirmed():
            return self.count(
                "SELECT count(*) FROM orders_order WHERE confirmation_sent_at IS NOT NULL "
                f"AND id BETWEEN {min(order_ids)} AND {max(order_ids)}"
            ) == len(order_ids)

        services.wait_for(confirmed, timeout, interval=0.5, message="orders left unconfirmed")

    def processed(self, order_ids):
        """How many of these orders' intents the consumer recorded as processed."""
        return self.count(
            "SELECT count(*) FROM outbox_processedintent p "
            "JOIN outbox_intent i ON i.id = p.intent_id "
            f"WHERE (i.args->>0)::int BETWEEN {min(order_ids)} AND {max(order_ids)}"
        )

    def duplicates_skipped(self):
        return self.worker.log_text().count(DUPLICATE)

    def purge(self):
        with Connection(self.env["CELERY_BROKER_URL"]) as connection:
            connection.default_channel.queue_purge("priority")


@pytest.fixture(scope="module", params=["rabbitmq", "redis"])
def project(request, bake, project_env, postgres, tmp_path_factory):
    broker = request.param
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=services.free_port())
    smtp.start()
    log_dir = tmp_path_factory.mktemp(f"outbox-{broker}")
    project = OutboxProject.migrated(
        bake,
        project_env,
        postgres,
        log_dir,
        {"broker": broker, "result_backend": "django-db"},
        f"outbox_{broker}",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
        CELERY_HEARTBEAT_DIR=str(log_dir),
        # A dead intent in seconds rather than minutes: 3 attempts, 1 s then 2 s apart.
        OUTBOX_MAX_ATTEMPTS="3",
        OUTBOX_RETRY_SECONDS="1",
    )
    project.inbox = inbox
    project.shell(create_user_code(BUYER))
    try:
        project.start_web()
        project.ensure_worker()
        yield project
    finally:
        project.stop()
        smtp.stop()


@pytest.fixture(autouse=True)
def no_relay_left(project):
    """Each test starts the relays it needs; none outlives it, even when it fails."""
    yield
    project.stop_relays()


def test_orders_placed_while_the_broker_is_down_are_all_confirmed_once_it_is_back(project, request):
    broker = request.getfixturevalue("rabbitmq" if project.broker == "rabbitmq" else "redis_server")
    project.ensure_worker()
    relay = project.start_relay()
    cookies = sign_in(project.web_url, BUYER).cookies.get_dict()
    before = project.count("SELECT coalesce(max(id), 0) FROM orders_order")

    def place_an_order(number):
        return requests.post(
            project.web_url + "/examples/orders/",
            data={
                "item": f"Teapot {number}",
                "quantity": 1,
                "csrfmiddlewaretoken": cookies["csrftoken"],
            },
            cookies=cookies,
            allow_redirects=False,
            timeout=30,
        ).status_code

    broker.kill()  # as a crash would: no goodbye to the relay or the worker
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as customers:  # four at a time, as a busy shop gets them
            answers = list(customers.map(place_an_order, range(200)))
        seconds = time.monotonic() - started
        pending = project.intents("pending")
        relay.wait_for_log("The broker is unreachable")
    finally:
        broker.start()
    print(f"\n[{project.broker}] 200 orders placed with the broker down in {seconds:.1f} s")

    assert answers == [302] * 200  # every order was taken
    assert pending == 200  # and the task to confirm it, kept
    orders = list(range(before + 1, before + 201))
    project.wait_until_confirmed(orders)
    services.wait_for(lambda: project.intents("pending") == 0, 30, message="intents not marked")
    confirmations = project.inbox.confirmations()
    assert [confirmations[order] for order in orders] == [1] * 200
    assert project.processed(orders) == 200


def test_a_rolled_back_order_leaves_no_intent_and_sends_nothing(project):
    relay = project.start_relay()
    orders_before = project.count("SELECT count(*) FROM orders_order")
    intents_before = project.count("SELECT count(*) FROM outbox_intent")
    mails_before = len(project.inbox.subjects)

    project.shell(
        "from django.contrib.auth import get_user_model\n"
        "from django.db import transaction\n"
        "from examples.orders.services import place_order\n"
        f"{FIND_BUYER}"
        "try:\n"
        "    with transaction.atomic():\n"
        "        place_order(buyer, 'Teapot', 1)\n"
        "        raise RuntimeError('the payment was declined')\n"
        "except RuntimeError:\n"
        "    print('rolled back')\n"
    )
    time.sleep(1)  # a relay would publish within milliseconds, a worker run at once

    assert project.count("SELECT count(*) FROM orders_order") == orders_before
    assert project.count("SELECT count(*) FROM outbox_intent") == intents_before
    assert "Published" not in relay.log_text()
    assert project.queued() == 0
    assert len(project.inbox.subjects) == mails_before


def test_an_intent_whose_queue_is_gone_dies_with_one_alert_and_shows_in_the_admin(project):
    relay = project.start_relay()
    # Written before a deploy removed the queue it names: no attempt can succeed.
    intent_id = project.shell(
        "from django.contrib.auth import get_user_model\n"
        "from django.db import transaction\n"
        "from outbox.enqueue import wake_the_relay\n"
        "from outbox.models import Intent\n"
        f"get_user_model().objects.create_superuser('admin', 'admin@example.com', {PASSWORD!r})\n"
        "with transaction.atomic():\n"
        "    intent = Intent.objects.create(\n"
        "        task_name='examples.orders.tasks.send_order_confirmation',\n"
        "        args=[1], queue='retired',\n"
        "    )\n"
        "    wake_the_relay()\n"
        "print(intent.id)"
    )

    services.wait_for(lambda: project.intents("dead") == 1, 30, message="the intent never died")
    alert = "Outbox intent for examples.orders.tasks.send_order_confirmation is dead"
    services.wait_for(
        lambda: any(alert in subject for subject in project.inbox.subjects), 10, message="no alert"
    )
    time.sleep(2)  # a second alert would come within the next relay pass
    assert sum(alert in subject for subject in project.inbox.subjects) == 1
    assert relay.log_text().count(f"Gave up intent {intent_id}") == 1

    admin = requests.Session()
    login = project.web_url + "/admin/login/"
    admin.get(login)
    admin.post(
        login,
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
        },
    )
    page = admin.get(project.web_url + "/admin/outbox/intent/?status__exact=dead").text
    assert intent_id in page and "1 dead</strong>" in page

    healthcheck = subprocess.run(
        [project.path / "compose" / "common" / "heartbeat-healthcheck", "outbox-relay", "60"],
        env=project.env,
        capture_output=True,
        text=True,
    )
    assert healthcheck.returncode == 0, healthcheck.stdout


def test_two_relays_publish_each_of_1000_intents_exactly_once(project):
    project.stop_worker()  # messages stay in the queue, where they can be counted
    total = 1000
    # Small batches, so that the two relays take turns through the backlog.
    starting = [project.start("outbox/start", "relay", OUTBOX_RELAY_BATCH_SIZE="20") for _ in "ab"]
    for relay in starting:
        relay.wait_for_log("Outbox relay ready", timeout=60)
    project.relays.extend(starting)

    # One transaction, so one notification: both relays wake at once to 1000 intents.
    project.shell(
        "from django.contrib.auth import get_user_model\n"
        "from django.db import transaction\n"
        "from examples.orders.services import place_order\n"
        f"{FIND_BUYER}"
        "with transaction.atomic():\n"
        f"    for _ in range({total}):\n"
        "        place_order(buyer, 'Teapot', 1)\n"
    )
    services.wait_for(lambda: project.intents("pending") == 0, 60, message="intents left")

    published = [
        sum(int(n) for n in re.findall(r"Published (\d+) intent", relay.log_text()))
        for relay in project.relays
    ]
    print(f"\n[{project.broker}] the two relays published {published[0]} and {published[1]}")
    assert sum(published) == total and min(published) > 0
    assert project.queued() == total  # counted at the broker: none published twice
    project.purge()


def test_a_relay_killed_between_publish_and_commit_causes_a_duplicate_with_no_effect(project):
    project.stop_worker()  # messages stay in the queue, where they can be counted
    batch = 500  # long enough to stop the relay in the middle of publishing it
    orders = project.place_orders(batch)
    sent_before = project.intents("sent")

    # One batch holds every intent: the relay commits nothing before it has published all.
    relay = project.start_relay(OUTBOX_RELAY_BATCH_SIZE=str(batch))
    services.wait_for(lambda: project.queued() > 0, 30, interval=0.005)
    os.killpg(relay.process.pid, signal.SIGSTOP)
    committed = project.intents("sent") - sent_before
    os.killpg(relay.process.pid, signal.SIGKILL)
    relay.process.wait()
    project.relays.remove(relay)
    time.sleep(0.5)  # what the relay had written to its socket reaches the queue
    published_before_the_kill = project.queued()
    print(
        f"\n[{project.broker}] relay killed after {published_before_the_kill} of {batch} publishes"
    )
    assert committed == 0 and 0 < published_before_the_kill < batch

    # Its transaction died with it: the next relay finds every intent pending, and
    # publishes them all again.
    project.start_relay()
    services.wait_for(lambda: project.intents("pending") == 0, 60, message="not all re-sent")
    assert project.queued() == batch + published_before_the_kill

    project.ensure_worker()
    project.wait_until_confirmed(orders)
    services.wait_for(
        lambda: project.duplicates_skipped() == published_before_the_kill,
        60,
        message="the duplicates were not all delivered",
    )
    confirmations = project.inbox.confirmations()
    assert [confirmations[order] for order in orders] == [1] * batch
    assert project.processed(orders) == batch
