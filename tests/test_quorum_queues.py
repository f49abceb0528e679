"""RabbitMQ 4's quorum-queue semantics, as the generated project sets them on purpose.

One project (RabbitMQ, results in PostgreSQL, no examples) runs its `default` worker
through its start script against the session's RabbitMQ 4 server. The queues its workers
declare carry the settings base.py chooses, and a poison task, one that kills its own
worker process on every delivery, ends in `dead_letter` after RABBITMQ_DELIVERY_LIMIT
returns instead of crashing worker processes for ever.
"""

import pytest

from tests import services
from tests.projects import Project

pytestmark = pytest.mark.skipif(
    services.rabbitmq_major() < 4, reason="RabbitMQ 4's quorum-queue semantics"
)

DELIVERY_LIMIT = 3

# A task written for this test only, in an app the test adds to the generated project.
POISON_TASKS = '''\
import os
import signal
import time
from pathlib import Path

from celery import shared_task


@shared_task(acks_late=True)
def die(marker_dir):
    """Record the delivery, then kill this worker process, as a segfault would."""
    Path(marker_dir, str(time.monotonic_ns())).touch()
    os.kill(os.getpid(), signal.SIGKILL)
'''


@pytest.fixture(scope="module")
def project(bake, project_env, postgres, rabbitmq, tmp_path_factory):
    options = {
        "broker": "rabbitmq",
        "result_backend": "django-db",
        "use_sentry": "n",
        "include_examples": "n",
    }
    log_dir = tmp_path_factory.mktemp("quorum-queues")
    project = Project.migrated(
        bake,
        project_env,
        postgres,
        log_dir,
        options,
        "quorum_queues",
        RABBITMQ_DELIVERY_LIMIT=str(DELIVERY_LIMIT),
    )
    poison = project.path / "poison"
    poison.mkdir()
    (poison / "__init__.py").write_text("")
    (poison / "tasks.py").write_text(POISON_TASKS)
    with (project.path / "config/settings/base.py").open("a") as settings:
        settings.write('\nINSTALLED_APPS += ["poison"]\n')
    try:
        project.start_worker("default")
        yield project
    finally:
        project.stop()


def vhost(project):
    return project.env["CELERY_BROKER_URL"].rsplit("/", 1)[1]


def test_task_queues_carry_the_chosen_quorum_settings(project, rabbitmq):
    queue = rabbitmq.api("GET", f"queues/{vhost(project)}/default")
    assert queue["type"] == "quorum"
    assert queue["arguments"] == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "dead_letter",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-consumer-timeout": 30 * 60 * 1000,
    }
    # The worker's event and remote-control queues are exclusive (RabbitMQ 4 deprecates
    # transient non-exclusive queues, and the tests' broker refuses them, as the generated
    # one does); the worker uses per-consumer prefetch, not the deprecated global QoS.
    queues = rabbitmq.api("GET", f"queues/{vhost(project)}")
    transient = [q["name"] for q in queues if not q["durable"]]
    assert transient, "no event or remote-control queue was declared"
    assert all(q["exclusive"] for q in queues if not q["durable"]), transient
    assert "Global QoS is disabled" in project.workers["default"].log_text()


def test_a_task_that_kills_its_worker_every_time_is_dead_lettered(
    project, rabbitmq, tmp_path, run_summary
):
    deliveries = tmp_path / "deliveries"
    deliveries.mkdir()
    project.shell(f"from poison.tasks import die; die.delay({str(deliveries)!r})")

    def dead_letters():
        queue = rabbitmq.api("GET", f"queues/{vhost(project)}/dead_letter")
        return queue.get("messages", 0)

    services.wait_for(dead_letters, 120, interval=1, message="the poison task never left")
    delivered = len(list(deliveries.iterdir()))
    [message] = rabbitmq.api(
        "POST",
        f"queues/{vhost(project)}/dead_letter/get",
        {"count": 1, "ackmode": "reject_requeue_true", "encoding": "auto"},
    )
    headers = message["properties"]["headers"]
    line = (
        f"rabbitmq: a task killing its worker process each time: delivered {delivered} "
        f"times (RABBITMQ_DELIVERY_LIMIT={DELIVERY_LIMIT}), then dead-lettered "
        f"({headers.get('x-first-death-reason')})"
    )
    print(f"\n{line}")
    run_summary.append(line)
    assert headers["task"] == "poison.tasks.die"
    assert headers["x-first-death-reason"] == "delivery_limit"
    assert delivered == DELIVERY_LIMIT + 1
    assert dead_letters() == 1
    # The worker replaced each killed process and still serves.
    assert project.workers["default"].process.poll() is None
