"""Real PostgreSQL, Redis and RabbitMQ servers for tests, run as plain background processes.

Each server lives in its own base directory, listens on 127.0.0.1 on ports picked at random, and
is started, stopped, killed and restarted by PID, so tests can exercise what mocks cannot:
reconnection, durability after a crash, real SQL and real AMQP. The binaries are Debian's, from
the root tests/debian_root.py makes (Debian 13's RabbitMQ 4, PostgreSQL 17 and Redis 8 unless
TEMPLATE_TEST_DEBIAN says otherwise); the system services they come with are never used.

    with RedisServer(tmp_path / "redis") as redis:
        settings.CELERY_RESULT_BACKEND = redis.url(1)
        redis.kill()
        redis.restart()

Every server started here is stopped at interpreter exit, even if a test session crashes.
"""

import atexit
import functools
import hashlib
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from pathlib import Path

from tests import debian_root

__all__ = [
    "PostgresServer",
    "RabbitMQServer",
    "RedisServer",
    "ensure_chromium",
    "ensure_servers",
    "free_port",
    "in_root",
    "postgres_bin_dir",
    "wait_for",
]

HOST = "127.0.0.1"
# Paths inside the servers' root. The scripts in /usr/sbin switch to the rabbitmq user and
# its /var/lib/rabbitmq; these do not.
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
PROJECT_TEMPLATE = Path(__file__).resolve().parent.parent / "{{cookiecutter.project_slug}}"
# The generated project's cluster settings (compose.cluster.yaml), with peers of our own.
CLUSTER_CONF = PROJECT_TEMPLATE / "compose/production/rabbitmq/cluster.conf"
# The generated project's RabbitMQ refuses what RabbitMQ 4 deprecates; so do the tests'
# (RabbitMQ 3 knows no such settings).
DEPRECATED_FEATURES_CONF = PROJECT_TEMPLATE / "compose/common/rabbitmq/deprecated-features.conf"
# Debian's browser, which the browser tests drive through Playwright (whose own browser
# downloads are not used); with a font, so that screenshots show text.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_PACKAGES = ("chromium", "fonts-dejavu-core")


@functools.cache
def ensure_servers() -> Path:
    """The root the servers run from, made on first use (tests/debian_root.py)."""
    return debian_root.servers_root()


def in_root(args: list, *, cwd: Path | str = "/", binds=()) -> list:
    """The command line that runs args (paths inside the servers' root) on this host.

    /tmp is shared with the host; binds names other host directories the program needs.
    """
    return debian_root.command(ensure_servers(), args, cwd=cwd, binds=binds)


def ensure_chromium() -> Path:
    """Install Debian's Chromium if it is missing; return its path."""
    if not CHROMIUM.exists():
        debian_root.apt_install(CHROMIUM_PACKAGES)
    return CHROMIUM


@functools.cache
def rabbitmq_major() -> int:
    """RabbitMQ's major version in the servers' root (3 on Debian 12, 4 on Debian 13)."""
    version = debian_root.package_version(ensure_servers(), "rabbitmq-server")
    return int(version.split(".")[0])


def postgres_bin_dir() -> Path:
    """The bin directory of PostgreSQL inside the servers' root (Debian keeps it off PATH)."""
    root = ensure_servers()
    bin_dirs = list(root.glob("usr/lib/postgresql/*/bin"))
    newest = max(bin_dirs, key=lambda path: float(path.parent.name))
    return Path("/") / newest.relative_to(root)


_ports_handed_out: set[int] = set()
# Not the module-level generator: pytest-randomly reseeds that one identically in every xdist
# worker, which would make parallel sessions pick the same ports.
_random = random.SystemRandom()


def free_port() -> int:
    """A free TCP port on 127.0.0.1, never the same twice in this process.

    It is taken below the kernel's ephemeral range, so that no outgoing connection can grab it
    while its server is down for a restart. It is tested with SO_REUSEADDR, as servers bind:
    TIME_WAIT leftovers from a stopped server must not make its port look busy.
    """
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    lowest = 20000 if ephemeral_low > 21000 else 1024
    for _ in range(1000):
        port = _random.randrange(lowest, ephemeral_low)
        if port in _ports_handed_out:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _ports_handed_out.add(port)
        return port
    raise RuntimeError(f"No free port found in {lowest}..{ephemeral_low - 1}")


def wait_for(predicate, timeout: float, interval: float = 0.1, message: str = ""):
    """Call predicate until it returns something truthy, and return that; TimeoutError if never."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(message or f"Condition not met within {timeout} s")
        time.sleep(interval)


def _run(args: list, *, input: str | None = None, timeout: float = 120, **kwargs) -> str:
    """Run a command and return its stdout; on failure raise with its stderr."""
    result = subprocess.run(
        [str(arg) for arg in args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(str(arg) for arg in args)} exited with {result.returncode}:\n"
            + (result.stderr or result.stdout)
        )
    return result.stdout


def _read_process(pid: int) -> tuple[str, str, str] | None:
    """(state, name, command line) of a process, or None if no process has that PID."""
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        name = (proc / "comm").read_text().strip()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    return state, name, cmdline


def _is_running(pid: int, name: str, marker: str) -> bool:
    """Whether pid is still the process we started, not yet a zombie.

    PIDs wrap, so its name and command line must match. An exiting process loses its command
    line before it closes its sockets, so one without a command line still counts as running.
    """
    process = _read_process(pid)
    if process is None:
        return False
    state, process_name, cmdline = process
    return state != "Z" and process_name == name and (not cmdline or marker in cmdline)


def _is_unreaped(pid: int) -> bool:
    """Whether pid belongs to a process that has exited (or is exiting) but still holds its PID."""
    process = _read_process(pid)
    return process is not None and (process[0] == "Z" or not process[2])


def _child_pids(parent: int) -> list[int]:
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent_pid = int(stat_file.read_text().rpartition(")")[2].split()[1])
        except OSError:
            continue
        if parent_pid == parent:
            children.append(int(stat_file.parent.name))
    return children


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path})"
    return f"--- last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])


_unclosed_servers: set["_Server"] = set()


@atexit.register
def _close_unclosed_servers() -> None:
    """Leave no server behind when a test session ends without closing them (or crashes)."""
    for server in list(_unclosed_servers):
        try:
            server.close()
        except Exception as exc:
            print(f"Could not close {server!r}: {exc}", file=sys.stderr)


class _Server:
    """Lifecycle shared by the servers: one main process, known by PID, stopped by signals."""

    process_name: str  # its /proc/PID/comm
    pid_file: Path
    stop_signal = signal.SIGTERM
    start_timeout = 60.0
    stop_timeout = 60.0

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.host = HOST
        self.port = free_port()
        self._pid: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(port={self.port}, base_dir={str(self.base_dir)!r})"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        """Start the server and return once it accepts work; RuntimeError with its log if not."""
        if self._is_up():
            raise RuntimeError(f"{self!r} is already running")
        self.kill()  # a no-op, unless the server crashed and left something to clean up
        _unclosed_servers.add(self)
        try:
            self._start(time.monotonic() + self.start_timeout)
        except Exception as exc:
            self.kill()
            logs = "\n".join(_tail(log) for log in self._logs())
            raise RuntimeError(f"{self!r} did not start: {exc}\n{logs}") from exc

    def stop(self) -> None:
        """Shut down gracefully and wait until the process has exited; a no-op if not running."""
        try:
            self._end(self.stop_signal, self.stop_timeout)
        except TimeoutError:
            self.kill()
            raise RuntimeError(
                f"{self!r} did not stop within {self.stop_timeout} s; killed it"
            ) from None

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and wait until it has exited."""
        self._end(signal.SIGKILL, 30)

    def restart(self) -> None:
        """Start again, on the same port with the same data, after a stop, a kill or a crash."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop for good and release everything the server holds."""
        try:
            self.stop()
        finally:
            _unclosed_servers.discard(self)

    def _in_root(self, args: list, cwd: Path | str = "/") -> list[str]:
        """args as a command line that runs in the servers' root and sees base_dir."""
        binds = [] if self.base_dir.is_relative_to("/tmp") else [self.base_dir]
        return [str(arg) for arg in in_root(args, cwd=cwd, binds=binds)]

    def _is_up(self) -> bool:
        return self._pid is not None and _is_running(
            self._pid, self.process_name, self._cmdline_marker()
        )

    def _pid_from_file(self) -> int | None:
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _end(self, sig: int, timeout: float) -> None:
        if self._pid is None:
            # A start that failed half-way may have left a server only its pid file knows of.
            self._pid = self._pid_from_file()
        if self._is_up():
            self._send(sig)
            wait_for(
                lambda: not self._is_up(),
                timeout,
                message=f"{self!r}: PID {self._pid} still runs {timeout} s after signal {sig}",
            )
        self._pid = None
        self._after_exit()

    def _send(self, sig: int) -> None:
        os.kill(self._pid, sig)

    def _after_exit(self) -> None:
        """Clean up what the main process leaves behind when it exits."""

    def _start(self, deadline: float) -> None:
        raise NotImplementedError

    def _cmdline_marker(self) -> str:
        """A string only our server's command line contains."""
        raise NotImplementedError

    def _logs(self) -> list[Path]:
        raise NotImplementedError


def _remaining(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


class PostgresServer(_Server):
    """A PostgreSQL cluster in base_dir/data, with fsync off: tests need speed, not power-loss
    safety, and committed rows still survive a kill of the server. `durable=True` keeps
    fsync on, as in production (the benchmarks time commits)."""

    process_name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: disconnect clients, checkpoint, exit

    def __init__(self, base_dir: Path, durable: bool = False) -> None:
        super().__init__(base_dir)
        self.durable = durable
        self.superuser = "postgres"
        self.superpassword = secrets.token_hex(16)
        self.data_dir = self.base_dir / "data"
        self.pid_file = self.data_dir / "postmaster.pid"
        self.log_file = self.base_dir / "postgres.log"
        # A Unix socket path must fit in 107 bytes.
        if len(os.fsencode(f"{self.base_dir}/.s.PGSQL.{self.port}")) < 107:
            self.socket_dir = self.base_dir
        else:
            digest = hashlib.sha1(str(self.base_dir).encode()).hexdigest()[:12]
            self.socket_dir = Path(f"/tmp/pgsock-{digest}")

    def create_database(self, name: str, owner: str, password: str) -> str:
        """Create the role and the database unless they exist; return the database's URL."""
        if not self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = {_sql_literal(owner)}"):
            self.psql(
                f"CREATE ROLE {_sql_identifier(owner)} LOGIN CREATEDB "
                f"PASSWORD {_sql_literal(password)}"
            )
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = {_sql_literal(name)}"):
            self.psql(f"CREATE DATABASE {_sql_identifier(name)} OWNER {_sql_identifier(owner)}")
        credentials = (
            f"{urllib.parse.quote(owner, safe='')}:{urllib.parse.quote(password, safe='')}"
        )
        return f"postgres://{credentials}@{self.host}:{self.port}/{urllib.parse.quote(name)}"

    def drop_database(self, name: str) -> None:
        """Drop the database if it exists, disconnecting whoever is still connected."""
        self.psql(f"DROP DATABASE IF EXISTS {_sql_identifier(name)} WITH (FORCE)")

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run SQL as the superuser over the Unix socket; return psql's unaligned output."""
        return _run(
            self._in_root(
                [postgres_bin_dir() / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
                + ["-h", self.socket_dir, "-p", self.port, "-U", self.superuser, "-d", db]
            ),
            input=sql,
        ).rstrip("\n")

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.socket_dir != self.base_dir:
                shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _start(self, deadline: float) -> None:
        self._prepare_directories()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._wait_for_killed_postmaster_to_be_reaped()
        options = [
            "-p", self.port,
            "-c", f"listen_addresses={self.host}",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", f"fsync={'on' if self.durable else 'off'}",
        ]  # fmt: skip
        self._as_postgres(
            [postgres_bin_dir() / "pg_ctl", "start", "-w", "-t", round(_remaining(deadline))]
            + ["-D", self.data_dir, "-l", self.log_file, "-o", shlex.join(map(str, options))],
            timeout=_remaining(deadline) + 10,
        )
        self._pid = self._pid_from_file()

    def _prepare_directories(self) -> None:
        uid, gid = debian_root.ids(ensure_servers(), "postgres")
        for directory in {self.base_dir, self.socket_dir}:
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chown(directory, uid, gid)
        # The postgres user must be able to reach base_dir (e.g. under /tmp/pytest-of-root).
        for parent in self.base_dir.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        password_file = self.base_dir / "superpassword"
        password_file.write_text(self.superpassword)
        os.chown(password_file, *debian_root.ids(ensure_servers(), "postgres"))
        try:
            self._as_postgres(
                [postgres_bin_dir() / "initdb", "-D", self.data_dir, "-U", self.superuser]
                + [f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8"]
                + ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]
            )
        finally:
            password_file.unlink()

    def _wait_for_killed_postmaster_to_be_reaped(self) -> None:
        """PostgreSQL refuses to start while the PID in a killed postmaster's lock file exists,
        and a zombie does, until PID 1 reaps it (here every 2 s or so)."""
        stale_pid = self._pid_from_file()
        if stale_pid is not None:
            wait_for(
                lambda: not _is_unreaped(stale_pid),
                10,
                message=f"The killed postmaster {stale_pid} was never reaped",
            )

    def _as_postgres(self, args: list, **kwargs) -> str:
        """Run a server command as the postgres user, which initdb and postgres insist on."""
        args = self._in_root(["runuser", "-u", "postgres", "--", *args], cwd=self.base_dir)
        return _run(args, **kwargs)

    def _send(self, sig: int) -> None:
        if sig != signal.SIGKILL:
            os.kill(self._pid, sig)
            return
        # A crash takes the backends too. Each runs in a session of its own, out of reach of a
        # process group kill; a stopped postmaster cannot fork new ones while we collect them.
        os.kill(self._pid, signal.SIGSTOP)
        children = _child_pids(self._pid)
        for pid in [*children, self._pid]:
            os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: not any(_is_running(child, "postgres", "postgres:") for child in children),
            10,
            message=f"{self!r}: children of the postmaster survived SIGKILL",
        )

    def _cmdline_marker(self) -> str:
        return f"-D {self.data_dir}"

    def _logs(self) -> list[Path]:
        return [self.log_file]


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class RedisServer(_Server):
    """A Redis server whose writes reach the disk before they are acknowledged, so that a key
    written before a kill is still there after the restart."""

    process_name = "redis-server"

    def __init__(self, base_dir: Path) -> None:
        super().__init__(base_dir)
        self.pid_file = self.base_dir / "redis.pid"
        self.log_file = self.base_dir / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run a redis-cli command against this server; return its output."""
        command = self._in_root(["redis-cli", "-h", self.host, "-p", self.port, *args])
        return _run(command, timeout=timeout).rstrip("\n")

    def _start(self, deadline: float) -> None:
        self.pid_file.unlink(missing_ok=True)  # a killed server leaves it behind
        _run(
            self._in_root(
                ["redis-server", "--port", self.port, "--bind", self.host, "--dir", self.base_dir]
                + ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
                + ["--daemonize", "yes", "--pidfile", self.pid_file, "--logfile", self.log_file]
            )
        )
        wait_for(
            self._answers_ping,
            _remaining(deadline),
            message=f"No PONG within {self.start_timeout} s",
        )
        self._pid = self._pid_from_file()

    def _answers_ping(self) -> bool:
        try:
            return self.cli("ping", timeout=5) == "PONG" and self.pid_file.exists()
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def _cmdline_marker(self) -> str:
        return f"{self.host}:{self.port}"  # Redis sets its process title to its address

    def _logs(self) -> list[Path]:
        return [self.log_file]


class RabbitMQServer(_Server):
    """A RabbitMQ node with the management plugin, and its own epmd, all under base_dir.

    The node runs in the foreground of a launcher script (our child), so a failed boot prints
    its reason to a log we own. Its epmd is started first, by us, so that it is not another
    stray daemon; it stays up across stop, kill and restart, and goes at close().

    A graceful stop takes about 6 s, 5 of them spent by the management agent waiting for
    statistics to stop (rabbitmq-server pull request 11070 removed the wait in 3.13).
    """

    process_name = "beam.smp"
    start_timeout = 120.0

    def __init__(self, base_dir: Path, cluster: "RabbitMQCluster | None" = None) -> None:
        super().__init__(base_dir)
        self.management_port = free_port()
        self.dist_port = free_port()
        self.user = "test"
        self.nodename = f"rabbit-{secrets.token_hex(4)}@localhost"
        self.cluster = cluster
        if cluster is None:
            self.epmd_port = free_port()
            self.password = secrets.token_hex(16)
            self.cookie = secrets.token_hex(20)
        else:  # one epmd, one cookie and one user for all the cluster's nodes
            self.epmd_port = cluster.epmd_port
            self.password = cluster.password
            self.cookie = cluster.cookie
        self.pid_file = self.base_dir / "rabbitmq.pid"
        self.log_file = self.base_dir / "rabbitmq-server.log"
        self._launcher: subprocess.Popen | None = None
        self._epmd: subprocess.Popen | None = None
        self._env = self._environment()

    def url(self, vhost: str = "/") -> str:
        vhost_path = urllib.parse.quote(vhost, safe="")
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/{vhost_path}"

    def management_api_url(self) -> str:
        return f"http://{self.user}:{self.password}@{self.host}:{self.management_port}/api/"

    def api(self, method: str, path: str, body=None):
        """Call the management HTTP API (path relative to /api/); return its JSON answer, if any."""
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            f"http://{self.host}:{self.management_port}/api/{path.lstrip('/')}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            detail = f"{error.reason} for {method} {path}: {error.read().decode(errors='replace')}"
            raise urllib.error.HTTPError(
                error.url, error.code, detail, error.headers, None
            ) from None
        return json.loads(content) if content else None

    def add_vhost(self, name: str) -> None:
        """Create a virtual host (if missing) and give our user full permissions on it."""
        quoted = urllib.parse.quote(name, safe="")
        self.api("PUT", f"vhosts/{quoted}", {})
        self.api(
            "PUT",
            f"permissions/{quoted}/{urllib.parse.quote(self.user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )

    def ctl(self, *args: str) -> str:
        """Run rabbitmqctl against this node; return its output."""
        return _run(
            self._in_root([RABBITMQ_BIN / "rabbitmqctl", *args]), env=self._env, timeout=150
        )

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._epmd is not None:
                self._epmd.terminate()
                self._epmd.wait(timeout=30)
                self._epmd = None

    def _environment(self) -> dict[str, str]:
        """Everything that would otherwise point to /etc/rabbitmq, /var/lib/rabbitmq or $HOME."""
        base = self.base_dir
        return os.environ | {
            "HOME": str(base / "home"),  # the CLI and the node read .erlang.cookie there
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": self.host,
            "ERL_CRASH_DUMP": str(base / "erl_crash.dump"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            # Otherwise every rabbitmqctl call listens on a port in 35672-35682.
            "RABBITMQ_CTL_DIST_PORT_MIN": "0",
            "RABBITMQ_CTL_DIST_PORT_MAX": "0",
        }

    def _write_config(self) -> None:
        home = self.base_dir / "home"
        home.mkdir(exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (self.base_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        # The default_* settings create the user at the first boot, and no guest user.
        # A 50 MB disk limit keeps the disk alarm, which blocks publishers, out of the way.
        (self.base_dir / "rabbitmq.conf").write_text(
            f"""\
default_user = {self.user}
default_pass = {self.password}
default_permissions.configure = .*
default_permissions.write = .*
default_permissions.read = .*
default_user_tags.administrator = true
loopback_users = none
management.tcp.ip = {self.host}
management.tcp.port = {self.management_port}
disk_free_limit.absolute = 50MB
"""
            + (DEPRECATED_FEATURES_CONF.read_text() if rabbitmq_major() >= 4 else "")
            + (self.cluster.config() if self.cluster else "")
        )

    def _start(self, deadline: float) -> None:
        self._write_config()
        self._start_epmd()
        self.pid_file.unlink(missing_ok=True)  # a killed node leaves it behind
        with self.log_file.open("ab") as log:
            self._launcher = subprocess.Popen(
                self._in_root([RABBITMQ_BIN / "rabbitmq-server"], cwd=self.base_dir),
                env=self._env,
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # keep it out of reach of the terminal's Ctrl-C
            )
        wait_for(
            self._pid_file_written,
            _remaining(deadline),
            message=f"No pid file within {self.start_timeout} s",
        )
        self._pid = self._pid_from_file()
        self.ctl("wait", "--timeout", str(round(_remaining(deadline))), self.pid_file)
        wait_for(
            self._management_api_answers,
            _remaining(deadline),
            message=f"The management API did not answer within {self.start_timeout} s",
        )

    def _start_epmd(self) -> None:
        if self.cluster is not None and self is not self.cluster.nodes[0]:
            return  # the first node's epmd serves them all
        if self._epmd is not None and self._epmd.poll() is None:
            return
        with (self.base_dir / "epmd.log").open("ab") as log:
            self._epmd = subprocess.Popen(
                self._in_root(["epmd", "-port", self.epmd_port, "-address", self.host]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # If the node found no epmd listening, it would start a daemon of its own.
        wait_for(
            lambda: _accepts_connections(self.epmd_port),
            10,
            message=f"epmd is not listening on {self.epmd_port}",
        )

    def _pid_file_written(self) -> bool:
        if self._launcher.poll() is not None:
            raise RuntimeError(f"rabbitmq-server exited with {self._launcher.returncode}")
        return self._pid_from_file() is not None

    def _management_api_answers(self) -> bool:
        try:
            self.api("GET", f"permissions/%2F/{urllib.parse.quote(self.user, safe='')}")
        except (urllib.error.URLError, OSError):
            return False
        return True

    def _after_exit(self) -> None:
        """The launcher script exits once beam.smp has; reap it (and whatever hangs on)."""
        if self._launcher is None:
            return
        try:
            self._launcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._launcher.pid, signal.SIGKILL)  # safe: not reaped, so still ours
            self._launcher.wait()
        self._launcher = None

    def _cmdline_marker(self) -> str:
        return f"-home {self.base_dir / 'home'} "  # the node name is not on its command line

    def _logs(self) -> list[Path]:
        return [self.log_file, self.base_dir / "log" / f"{self.nodename}.log"]


class RabbitMQCluster:
    """RabbitMQ nodes that form one cluster when they first start, by classic-config peer
    discovery, as compose.cluster.yaml's do: one Erlang cookie, one epmd, one user.

    Each node is a RabbitMQServer, to stop, kill and restart on its own; a restarted node
    rejoins the cluster with the data it kept.
    https://www.rabbitmq.com/docs/cluster-formation#peer-discovery-classic-config
    """

    def __init__(self, base_dir: Path, size: int = 3) -> None:
        self.epmd_port = free_port()
        self.password = secrets.token_hex(16)
        self.cookie = secrets.token_hex(20)
        self.nodes: list[RabbitMQServer] = []
        for number in range(1, size + 1):
            self.nodes.append(RabbitMQServer(Path(base_dir) / f"node{number}", cluster=self))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def config(self) -> str:
        """rabbitmq.conf lines for the cluster: the generated project's cluster.conf, with
        these nodes as the peers."""
        peers = "".join(
            f"cluster_formation.classic_config.nodes.{number} = {node.nodename}\n"
            for number, node in enumerate(self.nodes, 1)
        )
        shared = [
            line
            for line in CLUSTER_CONF.read_text().splitlines()
            if not line.startswith("cluster_formation.classic_config.nodes.")
        ]
        return "\n".join(shared) + "\n" + peers

    def start(self) -> None:
        """Start every node at once, as compose does, and wait until all run as one."""
        self.nodes[0]._start_epmd()
        errors = []

        def start(node):
            try:
                node.start()
            except Exception as error:  # raised below, once every node has had its try
                errors.append(error)

        threads = [threading.Thread(target=start, args=(node,)) for node in self.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.close()
            raise errors[0]
        self.wait_until_whole()

    def running_nodes(self, via: "RabbitMQServer | None" = None) -> list[str]:
        via = via or next(node for node in self.nodes if node._is_up())
        return sorted(node["name"] for node in via.api("GET", "nodes") if node["running"])

    def wait_until_whole(self, timeout: float = 120) -> None:
        names = sorted(node.nodename for node in self.nodes)
        wait_for(
            lambda: self.running_nodes() == names,
            timeout,
            interval=1,
            message=f"the cluster did not reach {names}",
        )

    def urls(self, vhost: str = "/") -> str:
        """The broker URL a client gets: every node, separated by ";", for kombu's failover."""
        return ";".join(node.url(vhost) for node in self.nodes)

    def close(self) -> None:
        for node in reversed(self.nodes):  # the first node's epmd goes last
            try:
                node.close()
            except Exception as exc:
                print(f"Could not close {node!r}: {exc}", file=sys.stderr)
