"""Self-test of tests/services.py: each server starts, does real work, and keeps its data across a
kill and a restart. Run with -s to see how long each start takes."""

import contextlib
import re
import socket
import subprocess
import time
import urllib.error
from pathlib import Path
from urllib.parse import quote

import pytest

from tests import debian_root
from tests.conftest import TEMPLATE_DIR
from tests.services import (
    PostgresServer,
    RabbitMQServer,
    RedisServer,
    ensure_servers,
    free_port,
    in_root,
    postgres_bin_dir,
    rabbitmq_major,
)


@contextlib.contextmanager
def started(server):
    """Start the server, print how long that took, and close it at the end."""
    began = time.monotonic()
    with server:
        print(f"{type(server).__name__} start: {time.monotonic() - began:.2f} s")
        yield server


def timed(label: str, action) -> None:
    began = time.monotonic()
    action()
    print(f"{label}: {time.monotonic() - began:.2f} s")


def psql_over_tcp(url: str, sql: str) -> str:
    """Run SQL as the URL's user, over TCP, so the role's password is really checked."""
    psql = [postgres_bin_dir() / "psql", url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    return subprocess.run(
        [str(arg) for arg in in_root([*psql, "-c", sql])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_free_ports_are_distinct_and_below_the_ephemeral_range():
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert max(ports) < ephemeral_low


def test_postgres_socket_moves_out_of_a_long_base_dir(tmp_path):
    server = PostgresServer(tmp_path / ("long" * 25))
    assert server.socket_dir != server.base_dir
    assert len(f"{server.socket_dir}/.s.PGSQL.{server.port}") < 107


def test_postgres_keeps_committed_rows_across_a_kill(tmp_path_factory):
    with started(PostgresServer(tmp_path_factory.mktemp("postgres"))) as server:
        url = server.create_database("app", owner="app", password="s3cret")
        assert server.create_database("app", owner="app", password="s3cret") == url
        assert url == f"postgres://app:s3cret@127.0.0.1:{server.port}/app"
        assert psql_over_tcp(url, "SELECT 1") == "1"
        psql_over_tcp(url, "CREATE TABLE answer (value int); INSERT INTO answer VALUES (42)")

        server.kill()
        timed("PostgreSQL restart after kill", server.restart)
        assert psql_over_tcp(url, "SELECT value FROM answer") == "42"

        server.drop_database("app")
        assert server.psql("SELECT count(*) FROM pg_database WHERE datname = 'app'") == "0"


def test_a_server_that_cannot_start_says_why(tmp_path_factory):
    server = PostgresServer(tmp_path_factory.mktemp("postgres-busy-port"))
    with socket.socket() as squatter:
        squatter.bind((server.host, server.port))
        squatter.listen()
        with pytest.raises(RuntimeError, match="Address already in use"):
            server.start()
    server.close()


def test_redis_keeps_keys_across_a_kill_and_a_stop(tmp_path_factory):
    with started(RedisServer(tmp_path_factory.mktemp("redis"))) as server:
        assert server.url(2) == f"redis://127.0.0.1:{server.port}/2"
        server.cli("SET", "greeting", "hello")

        server.kill()
        timed("Redis restart after kill", server.restart)
        assert server.cli("GET", "greeting") == "hello"

        timed("Redis stop and start", server.restart)
        assert server.cli("GET", "greeting") == "hello"


def test_rabbitmq_keeps_persistent_messages_across_a_kill(tmp_path_factory):
    with started(RabbitMQServer(tmp_path_factory.mktemp("rabbitmq"))) as server:
        assert server.url().endswith(f"@127.0.0.1:{server.port}/%2F")
        with socket.create_connection((server.host, server.port), timeout=5) as amqp:
            amqp.sendall(b"AMQP\x00\x00\x09\x01")
            assert amqp.recv(1) == b"\x01"  # a method frame: Connection.Start

        server.add_vhost("celery tests")
        assert "celery tests" in server.ctl("list_vhosts", "--silent").splitlines()
        vhost = quote("celery tests", safe="")
        server.api("PUT", f"queues/{vhost}/jobs", {"durable": True})
        # RabbitMQ 3.10 writes a queue's definition to disk lazily: a kill just after the
        # declaration can lose the queue itself. A clean restart stores it for sure, so
        # what follows tests the message alone.
        server.restart()
        # The management API publishes with publisher confirms: once it answers, the persistent
        # message is on disk.
        published = server.api(
            "POST",
            f"exchanges/{vhost}/amq.default/publish",
            {
                "routing_key": "jobs",
                "payload": "hello",
                "payload_encoding": "string",
                "properties": {"delivery_mode": 2},
            },
        )
        assert published == {"routed": True}

        server.kill()
        timed("RabbitMQ restart after kill", server.restart)
        messages = server.api(
            "POST",
            f"queues/{vhost}/jobs/get",
            {"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"},
        )
        assert [message["payload"] for message in messages] == ["hello"]

        # Configured as the generated project's broker: RabbitMQ 4's deprecated transient
        # non-exclusive queues are refused (compose/common/rabbitmq/deprecated-features.conf).
        if rabbitmq_major() >= 4:
            with pytest.raises(urllib.error.HTTPError, match="transient_nonexcl_queues"):
                server.api(
                    "PUT", f"queues/{vhost}/transient", {"durable": False, "auto_delete": True}
                )
        timed("RabbitMQ graceful stop", server.stop)


def upstream_version(debian_version: str) -> str:
    """5:8.0.2-3+deb13u3 -> 8.0.2"""
    return debian_version.split(":")[-1].rsplit("-", 1)[0]


@pytest.mark.skipif(
    debian_root.SUITE != "trixie", reason="the compose files name Debian 13's versions"
)
def test_the_compose_files_name_the_versions_the_tests_run():
    """Every server image a compose file names, and the Python the Dockerfiles start from,
    is the release the servers' root (and so every stand-in) runs."""
    root = ensure_servers()
    tested = {
        "postgres": upstream_version(debian_root.package_version(root, "postgresql-17")),
        "rabbitmq": upstream_version(debian_root.package_version(root, "rabbitmq-server")),
        "redis": upstream_version(debian_root.package_version(root, "redis-server")),
        "python": upstream_version(debian_root.candidate_version(root, "python3.13")),
    }
    project = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
    named = []
    for path in [
        *project.glob("compose*.yaml"),
        *project.glob("compose/*/django/Dockerfile"),
        project / ".github/workflows/ci.yml",
    ]:
        named += re.findall(
            r"(?:image:|FROM)\s+(postgres|rabbitmq|redis|python):(\S+)", path.read_text()
        )
    assert {name for name, _ in named} == set(tested)
    for name, tag in named:
        assert tag.split("-")[0] == tested[name], f"{name}:{tag} is not the tested {tested[name]}"
