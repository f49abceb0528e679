"""Debian roots made with debootstrap: where the tests' servers and stand-in images come from.

The compose files name RabbitMQ 4, PostgreSQL 17, Redis 8 and Python 3.13. Debian 13
(trixie) ships those, while the machines the tests run on may be Debian 12, so the tests
never use the host's server packages. Instead:

- `minbase()` is a minimal root of SUITE; tests/docker_engine.py imports it as the base of
  the stand-in images.
- `servers_root()` is a copy of it with the server packages installed. `command()` runs a
  program from it, chrooted, with the host's /tmp, /dev and /proc and the directories the
  caller names bound at the same paths inside. The program stays an ordinary host process
  (same PIDs, same network), so tests stop, kill and restart servers as before.

TEMPLATE_TEST_DEBIAN=bookworm runs everything on Debian 12's packages instead (RabbitMQ
3.10, PostgreSQL 15, Redis 7.0, Python 3.11). Roots are kept in CACHE_DIR, keyed by what
went into them, so only the first run on a machine builds them (about a minute).
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE_DIR = Path(
    os.environ.get("TEMPLATE_TEST_DOCKER_CACHE", "/var/cache/cookiecutter-django-celery")
)
SUITE = os.environ.get("TEMPLATE_TEST_DEBIAN", "trixie")
SERVER_PACKAGES = ("rabbitmq-server", "redis-server", "redis-tools", "postgresql")
# Certificates this machine added to its own trust store (an egress proxy's, say): the
# roots trust them too, so that pip and apt inside image builds work here as on the host.
EXTRA_CA_CERTIFICATES = Path("/usr/local/share/ca-certificates")

# Runs inside a new mount namespace, so nothing it mounts outlives the program or shows
# on the host. Arguments: root, working directory, the number of directories to bind,
# those directories, then the command.
_ENTER = r"""
root=$1 cwd=$2 count=$3; shift 3
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind /tmp "$root/tmp"
while [ "$count" -gt 0 ]; do
  mkdir -p "$root$1" && mount --bind "$1" "$root$1"
  shift; count=$((count - 1))
done
exec chroot "$root" env -C "$cwd" "$@"
"""


def run(args, *, timeout=600, check=True, **kwargs):
    """Run a command, capturing its output; on failure raise with the command and its output."""
    result = subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} exited with {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def apt_install(packages):
    """Install host packages (as root, or through sudo)."""
    if os.geteuid() == 0:
        as_root = []
    elif shutil.which("sudo"):
        as_root = ["sudo", "-n"]
    else:
        raise RuntimeError("Install the Debian packages " + " ".join(packages) + " (needs root)")
    run([*as_root, "apt-get", "update"], timeout=600)
    run(
        [*as_root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y"]
        + ["--no-install-recommends", *packages],
        timeout=1800,
    )


def debian_mirror():
    """The Debian mirror this machine's apt uses (debootstrap must use the same one)."""
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            uris = fields.get("URIs", "").split()
            if uris and "/debian" in uris[0] and "security" not in uris[0]:
                return uris[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.exists():
            if match := re.search(
                r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)/?\s", path.read_text(), re.M
            ):
                return match[1]
    return "http://deb.debian.org/debian"


def digest(*parts):
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else str(part).encode())
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def _certificates():
    return sorted(EXTRA_CA_CERTIFICATES.rglob("*.crt"))


def minbase_key():
    """What the minimal root is made of: a new key makes a new root."""
    certificates = _certificates()
    return digest(f"debootstrap --variant=minbase {SUITE}", debian_mirror(),
                  *(c.read_bytes() for c in certificates))  # fmt: skip


def minbase():
    """A minimal root of SUITE, made once and kept."""
    key = minbase_key()
    root = CACHE_DIR / f"debian-{SUITE}-{key}"
    with _lock():
        if not (root / ".complete").exists():
            if not shutil.which("debootstrap"):
                apt_install(["debootstrap"])
            shutil.rmtree(root, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=CACHE_DIR) as scratch:
                rootfs = Path(scratch) / "rootfs"
                run(["debootstrap", "--variant=minbase", SUITE, rootfs, debian_mirror()],
                    timeout=1800)  # fmt: skip
                trusted = rootfs / "usr/local/share/ca-certificates"
                trusted.mkdir(parents=True, exist_ok=True)
                for certificate in _certificates():
                    shutil.copy(certificate, trusted / certificate.name)
                rootfs.rename(root)
            (root / ".complete").write_text(key)
    return root


def servers_root(extra_packages=()):
    """A copy of minbase() with Debian's RabbitMQ, Redis and PostgreSQL installed, made once
    and kept. Installing starts no service and creates no PostgreSQL cluster.

    extra_packages go in too (benchmarks/ adds Python's venv module): another root, kept
    beside this one."""
    base = minbase()
    packages = (*SERVER_PACKAGES, *extra_packages)
    root = CACHE_DIR / f"servers-{SUITE}-{digest(base.name, *packages)}"
    with _lock():
        if not (root / ".complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            run(["cp", "-a", base, root])
            (root / ".complete").unlink()
            shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
            (root / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
            policy = root / "usr/sbin/policy-rc.d"  # tells postinst scripts not to start services
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
            cluster_config = root / "etc/postgresql-common/createcluster.conf"
            cluster_config.parent.mkdir(parents=True, exist_ok=True)
            cluster_config.write_text("create_main_cluster = false\n")
            run(command(root, ["apt-get", "update"]), timeout=600)
            run(
                command(root, ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install"]
                        + ["-y", "--no-install-recommends", *packages]),
                timeout=1800,
            )  # fmt: skip
            (root / ".complete").write_text(root.name)
    return root


def command(root, args, *, cwd="/", binds=()):
    """The command line that runs args inside root, with /tmp and binds shared with the host.

    binds are host directories outside /tmp that the program must see at the same path.
    """
    binds = [str(Path(path).absolute()) for path in binds]
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _ENTER,
            "enter", root, cwd, len(binds), *binds, *args]  # fmt: skip


def package_version(root, package):
    """The version of a package installed in root, as dpkg records it."""
    return run(["chroot", root, "dpkg-query", "--showformat=${Version}", "--show", package]).stdout


def candidate_version(root, package):
    """The version of a package that apt in root would install (as the stand-ins do)."""
    policy = run(["chroot", root, "apt-cache", "policy", package]).stdout
    return re.search(r"Candidate:\s*(\S+)", policy)[1]


def ids(root, user):
    """(uid, gid) of a user of root's /etc/passwd, which may differ from the host's."""
    for line in (Path(root) / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise KeyError(f"no user {user} in {root}/etc/passwd")


class _lock:
    """One process at a time builds roots (pytest-xdist workers, parallel sessions)."""

    def __enter__(self):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        self.file = (CACHE_DIR / "debian-root.lock").open("w")
        fcntl.flock(self.file, fcntl.LOCK_EX)

    def __exit__(self, *exc_info):
        self.file.close()
