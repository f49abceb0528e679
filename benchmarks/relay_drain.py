"""How fast the outbox relay drains a backlog, against the broker's own limit.

    .venv/bin/python benchmarks/relay_drain.py              # 20,000 intents, about 2 minutes
    .venv/bin/python benchmarks/relay_drain.py --intents 2000

It starts its own PostgreSQL and RabbitMQ (tests/services.py), generates a project with
default options, migrates it, and writes a backlog of pending intents, as a broker outage
would leave them. Then, in the project's Django shell, with no worker consuming:

1. the relay (outbox/relay.py, the project's batch size) publishes the whole backlog
   with publisher confirms to the `default` quorum queue; intents/s from first pass to
   last commit;
2. the raw limit: py-amqp alone publishes as many messages of the same size to the same
   queue on one channel in confirm mode, then waits once for the broker's confirms.

It prints both rates and their ratio. Nothing is asserted; every server it started is
stopped at the end.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import services  # noqa: E402

VENV_BIN = Path(sys.executable).parent

# Run in the project's Django shell: prints the two rates.
MEASURE = """
import os, time
import amqp
from celery import current_app
from django.conf import settings
from outbox.models import Intent
from outbox.relay import Relay

count = int(os.environ["BENCH_INTENTS"])
task = "scheduling.tasks.round_trip"
Intent.objects.bulk_create(
    Intent(task_name=task, args=[n, "x" * 40], queue="default") for n in range(count)
)
relay = Relay.from_settings(current_app)
current_app.loader.import_default_modules()
started = time.monotonic()
while relay.relay_batch():
    pass
relay_seconds = time.monotonic() - started
assert not Intent.objects.filter(status=Intent.Status.PENDING).exists()
relay.close_broker()

with current_app.connection_for_write() as connection:
    connection.default_channel.queue_purge("default")
    body_size = 400  # about a relayed task message's body and headers
    raw = amqp.Connection(
        host=f"{connection.hostname}:{connection.port}", userid=connection.userid,
        password=connection.password, virtual_host=connection.virtual_host,
    )
    raw.connect()
    channel = raw.channel()
    channel.confirm_select()
    confirmed = []
    channel.events["basic_ack"].add(lambda tag, multiple: confirmed.append(tag))
    started = time.monotonic()
    for _ in range(count):
        channel.basic_publish(
            amqp.Message(b"x" * body_size, delivery_mode=2), routing_key="default"
        )
    while not confirmed or max(confirmed) < count:
        raw.drain_events(timeout=30)
    raw_seconds = time.monotonic() - started
    raw.close()
    connection.default_channel.queue_purge("default")
print(f"RESULT {count / relay_seconds:.0f} {count / raw_seconds:.0f}")
"""


def measure(rabbitmq, postgres, workdir, count):
    slug = "relay_bench"
    subprocess.run(
        [VENV_BIN / "cookiecutter", "--no-input", "--output-dir", workdir, REPO]
        + [f"project_slug={slug}"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    project = workdir / slug
    rabbitmq.add_vhost(slug)
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_SECRET_KEY": "bench-" + "k" * 50,
        "DATABASE_URL": postgres.create_database(slug, owner=slug, password="bench-password"),
        "REDIS_URL": "redis://127.0.0.1:9/0",  # unused here
        "CELERY_BROKER_URL": rabbitmq.url(slug),
        "CELERY_RESULT_BACKEND": "django-db",
        "EMAIL_URL": "consolemail://",
        "BENCH_INTENTS": str(count),
    }
    for args in (["migrate", "--noinput"], ["shell", "--no-imports", "-c", MEASURE]):
        result = subprocess.run(
            [VENV_BIN / "python", "manage.py", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode:
            sys.exit(f"manage.py {args[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    relay_rate, raw_rate = map(int, result.stdout.split("RESULT ")[1].split())
    print(f"relay: {count} intents drained at {relay_rate} intents/s")
    print(f"raw py-amqp, pipelined confirms, same queue: {raw_rate} messages/s")
    print(f"relay / raw: {relay_rate / raw_rate:.0%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=20_000)
    options = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    services.ensure_servers()
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as directory:
        workdir = Path(directory)
        with (
            services.PostgresServer(workdir / "postgres") as postgres,
            services.RabbitMQServer(workdir / "rabbitmq") as rabbitmq,
        ):
            measure(rabbitmq, postgres, workdir, options.intents)


if __name__ == "__main__":
    main()
