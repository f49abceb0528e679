"""A three-node RabbitMQ cluster loses a node under load, and nothing is lost.

Three RabbitMQ 4 nodes form one cluster by classic-config peer discovery, with the
generated project's compose/production/rabbitmq/cluster.conf. A project (RabbitMQ,
results in PostgreSQL) is given all three nodes in one failover broker URL, as
compose.cluster.yaml gives them; its `default` worker and an outbox relay run through
their start scripts. While 1,000 tasks are published directly with confirms and 1,000
more go through the outbox, the node that leads the `default` queue is killed with
SIGKILL. The side effect is rewards' award_points (a unique row per purchase and a
balance), as in test_faults.py.
"""

import json
import subprocess
import time

import pytest

from tests import services
from tests.projects import Project
from tests.test_faults import (
    awarded,
    balance,
    create_purchases,
    duplicate_runs,
    publish_in_a_process,
    report,
)

TOTAL = 1000

pytestmark = pytest.mark.skipif(
    services.rabbitmq_major() < 4, reason="the cluster settings are RabbitMQ 4's"
)


@pytest.fixture(scope="module")
def cluster(server_root):
    with services.RabbitMQCluster(server_root / "cluster") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def project(bake, project_env, postgres, cluster, tmp_path_factory):
    vhost = "cluster_test"
    cluster.nodes[0].add_vhost(vhost)
    options = {"broker": "rabbitmq", "result_backend": "django-db"}
    log_dir = tmp_path_factory.mktemp("cluster")
    project = Project.migrated(
        bake,
        project_env,
        postgres,
        log_dir,
        options,
        "cluster",
        CELERY_BROKER_URL=cluster.urls(vhost),
    )
    project.vhost = vhost
    try:
        project.start_worker("default")
        project.relay = project.start("outbox/start", "relay")
        project.relay.wait_for_log("Outbox relay ready", timeout=60)
        yield project
    finally:
        project.stop()


def queue_state(cluster, vhost, name="default"):
    node = next(node for node in cluster.nodes if node._is_up())
    return node.api("GET", f"queues/{vhost}/{name}")


def enqueue_through_the_outbox(project, purchase_ids, go):
    """A process that writes the purchases' award_points intents in one transaction, once
    the file `go` exists (Django is set up by then)."""
    code = (
        "import pathlib, time; from django.db import transaction\n"
        "from examples.rewards.tasks import award_points\n"
        "from outbox.enqueue import enqueue\n"
        f"while not pathlib.Path({str(go)!r}).exists():\n"
        "    time.sleep(0.01)\n"
        "with transaction.atomic():\n"
        f"    for purchase_id in {purchase_ids}:\n"
        "        enqueue(award_points, purchase_id)\n"
    )
    return subprocess.Popen(
        ["python", "manage.py", "shell", "--no-imports", "-c", code],
        cwd=project.path,
        env=project.env,
    )


def pending_intents(project):
    return int(project.sql("SELECT count(*) FROM outbox_intent WHERE status <> 'sent'"))


def intents(project):
    """(written, sent) intents so far."""
    written, sent = project.sql(
        "SELECT count(*), count(*) FILTER (WHERE status = 'sent') FROM outbox_intent"
    ).split("|")
    return int(written), int(sent)


def test_a_node_killed_under_load_loses_no_task(project, cluster, tmp_path, run_summary):
    direct_ids = create_purchases(project, "cluster-direct", TOTAL)
    outbox_ids = create_purchases(project, "cluster-outbox", TOTAL)
    duplicates_before = duplicate_runs(project)
    before = queue_state(cluster, project.vhost)
    assert len(before["members"]) == 3, before["members"]
    leader = next(node for node in cluster.nodes if node.nodename == before["leader"])

    # The node dies while both paths are busy: the producer is publishing, and the relay
    # is publishing the 1,000 intents just committed.
    go = tmp_path / "go"
    through_outbox = enqueue_through_the_outbox(project, outbox_ids, go)
    direct = publish_in_a_process(project, direct_ids)
    for line in direct.stdout:
        if line.startswith("progress") and int(line.split()[1]) >= 200:
            break
    go.touch()
    services.wait_for(
        lambda: intents(project)[0] == TOTAL, 60, interval=0.01, message="no intents written"
    )
    written_at_kill, sent_at_kill = intents(project)
    leader.kill()
    killed = time.monotonic()
    outcome = json.loads(direct.stdout.read().strip().splitlines()[-1])
    assert direct.wait(120) == 0
    assert through_outbox.wait(120) == 0
    confirmed = set(outcome["sent"])

    services.wait_for(
        lambda: (
            awarded(project, "cluster-direct") >= len(confirmed)
            and pending_intents(project) == 0
            and awarded(project, "cluster-outbox") == TOTAL
        ),
        180,
        interval=1,
        message="the surviving nodes did not get every task done",
    )
    recovered = time.monotonic() - killed
    new_leader = queue_state(cluster, project.vhost)["leader"]

    leader.start()
    cluster.wait_until_whole()
    services.wait_for(
        lambda: len(queue_state(cluster, project.vhost).get("online", [])) == 3,
        120,
        interval=1,
        message="the restarted node did not rejoin the queue",
    )
    rejoined = time.monotonic() - killed

    direct_awarded = {
        int(value)
        for value in project.sql(
            "SELECT purchase_id FROM rewards_pointsentry e JOIN users_user u ON u.id = e.user_id "
            "WHERE u.username = 'cluster-direct'"
        ).split()
    }
    lost = confirmed - direct_awarded
    duplicated = sum(
        balance(project, buyer) - awarded(project, buyer)
        for buyer in ("cluster-direct", "cluster-outbox")
    )
    report(
        run_summary,
        "rabbitmq cluster: queue leader killed",
        sent=len(confirmed) + TOTAL,
        completed=len(direct_awarded & confirmed) + awarded(project, "cluster-outbox"),
        lost=len(lost),
        duplicated=duplicated,
        refused_at_publish=len(outcome["failed"]),
        redelivered_and_absorbed=duplicate_runs(project) - duplicates_before,
        intents_at_kill=f"{written_at_kill} written, {sent_at_kill} sent",
        leader=f"{leader.nodename} -> {new_leader}",
        all_done_after=f"{recovered:.0f} s",
        replicated_on_3_again_after=f"{rejoined:.0f} s",
    )
    assert not lost, f"confirmed but never run: {sorted(lost)}"
    assert duplicated == 0, "a side effect happened twice"
    assert all(name == "OperationalError" for _, name in outcome["failed"])
    # Every refused publish is a purchase without points, which the sweep would award.
    assert awarded(project, "cluster-direct") == len(direct_awarded)
    # Worker and relay failed over by themselves.
    assert project.workers["default"].process.poll() is None
    assert project.relay.process.poll() is None
    assert new_leader != leader.nodename
