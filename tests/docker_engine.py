"""A private Docker engine for the compose tests, and offline stand-ins for the images the
generated compose files name.

No image registry is reachable where these tests run, so nothing is pulled. Instead:

- `DockerEngine` starts Debian's dockerd by hand, on its own socket, with no iptables
  rules and no default bridge (compose makes its own networks), and stops it at the end.
  Its data directory lives in CACHE_DIR, so images survive from one test session to the
  next on the same machine, and a lock lets only one session use it at a time.
- `DockerEngine.provide_images(project)` gives every image a generated project names
  (`postgres:17.12`, `python:3.13.5-slim-trixie`, ...) a stand-in built from
  tests/standins/ on the Debian root of tests/debian_root.py, tagged with the official
  name. Each stand-in is labelled with a hash of its recipe: a changed recipe is
  rebuilt, an unchanged one is reused, and an empty cache builds everything (a few
  minutes).
- `DockerEngine.build_project_images(project, compose_file)` builds the project's own
  images with `docker build --network=host`, so that pip inside the build reaches PyPI;
  the compose files themselves stay as users run them.

Nothing started here outlives the test session, even if it crashes: every running
engine is stopped at interpreter exit.
"""

import atexit
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests import debian_root
from tests.conftest import VENV_BIN
from tests.debian_root import CACHE_DIR, digest, run

DEBIAN_PACKAGES = ("docker.io", "debootstrap")
STANDINS = Path(__file__).resolve().parent / "standins"
# Repository part of an image reference -> the stand-in recipe in tests/standins/.
STANDIN_RECIPES = {
    "python": "python",
    "postgres": "postgres",
    "rabbitmq": "rabbitmq",
    "redis": "redis",
    "axllent/mailpit": "mailpit",
}
RECIPE_LABEL = "org.cookiecutter-django-celery.standin-recipe"


class DockerUnavailable(Exception):
    """No Docker engine can run here; the message says why."""


def ensure_debian_packages():
    """Install Debian's dockerd and debootstrap if missing; DockerUnavailable if we cannot."""
    if shutil.which("dockerd") and shutil.which("debootstrap"):
        return
    if os.geteuid() != 0:
        raise DockerUnavailable(
            "dockerd or debootstrap is missing, and installing "
            + " ".join(DEBIAN_PACKAGES)
            + " needs root"
        )
    try:
        debian_root.apt_install(DEBIAN_PACKAGES)
    except RuntimeError as error:
        raise DockerUnavailable(f"installing {' '.join(DEBIAN_PACKAGES)} failed: {error}") from None


def recipe_files(directory):
    return [
        (path.relative_to(directory).as_posix(), path.read_bytes())
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    ]


_running_engines = set()


@atexit.register
def _stop_running_engines():
    for engine in list(_running_engines):
        engine.stop()


class DockerEngine:
    """dockerd with its data, pid file, log and lock in cache_dir (kept between sessions)
    and its socket in a new temporary directory (a socket path must stay short)."""

    start_timeout = 60

    def __init__(self, cache_dir=CACHE_DIR):
        self.cache_dir = Path(cache_dir)
        self.data_dir = self.cache_dir / "docker"
        self.pid_file = self.cache_dir / "dockerd.pid"
        self.log_path = self.cache_dir / "dockerd.log"
        self.run_dir = None
        self.process = None
        self.log = None
        self.lock_file = None
        self.env = None
        self._provided = set()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self):
        if os.geteuid() != 0:
            raise DockerUnavailable("dockerd needs root here (rootless mode is not set up)")
        ensure_debian_packages()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        self._stop_leftover_daemon()
        self.run_dir = Path(tempfile.mkdtemp(prefix="dockerd-"))
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.run_dir}/docker.sock",
            # The classic builder: it needs no buildx plugin and no BuildKit frontend image.
            "DOCKER_BUILDKIT": "0",
            "DOCKER_CONFIG": str(self.run_dir / "config"),
        }
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                "dockerd",
                f"--data-root={self.data_dir}",
                f"--exec-root={self.run_dir}/exec",
                f"--host=unix://{self.run_dir}/docker.sock",
                f"--pidfile={self.pid_file}",
                # No rules in the host's firewall and no forwarding: containers reach one
                # another on compose's networks, the host reaches them through published
                # ports on 127.0.0.1, and nothing else.
                "--iptables=false",
                "--ip-forward=false",
                "--bridge=none",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _running_engines.add(self)
        deadline = time.monotonic() + self.start_timeout
        while self.docker("version", check=False, timeout=10).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise DockerUnavailable(f"dockerd did not start:\n{tail}")
            time.sleep(0.5)
        self._remove_leftovers()
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        _running_engines.discard(self)
        if self.log is not None:
            self.log.close()
            self.log = None
        if self.run_dir is not None:
            unmount_below(self.run_dir)
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
        if self.lock_file is not None:
            self.lock_file.close()
            self.lock_file = None

    def _lock(self, timeout=1800):
        """One session at a time uses the data directory; wait for the other to finish."""
        self.lock_file = (self.cache_dir / "lock").open("w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DockerUnavailable(
                        f"another test session has held {self.data_dir} for {timeout} s"
                    ) from None
                time.sleep(2)

    def _stop_leftover_daemon(self):
        """A session that was killed can leave its dockerd behind; we hold the lock, so it
        is no one else's."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return
        if "dockerd" in cmdline and str(self.data_dir) in cmdline:
            os.kill(pid, signal.SIGTERM)
            for _ in range(120):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.5)

    def _remove_leftovers(self):
        """Containers, volumes and networks a killed session left in the kept data."""
        containers = self.docker("ps", "--all", "--quiet").stdout.split()
        if containers:
            self.docker("rm", "--force", "--volumes", *containers)
        self.docker("volume", "prune", "--force")
        self.docker("network", "prune", "--force")
        # Images replaced by newer builds, once they are a week old: recent ones still
        # serve as the layer cache.
        self.docker("image", "prune", "--force", "--filter", "until=168h")

    # -- commands ------------------------------------------------------------------------

    def docker(self, *args, timeout=600, check=True, **kwargs):
        return run(["docker", *args], env=self.env, timeout=timeout, check=check, **kwargs)

    def compose(self, project, *args, files=("compose.yaml",), timeout=600, check=True):
        file_args = [arg for name in files for arg in ("--file", name)]
        return run(
            [VENV_BIN / "docker-compose", *file_args, *args],
            cwd=project,
            env=self.env,
            timeout=timeout,
            check=check,
        )

    def image_label(self, reference, label):
        result = self.docker(
            "image", "inspect", "--format", f'{{{{ index .Config.Labels "{label}" }}}}',
            reference, check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    # -- images --------------------------------------------------------------------------

    def build_project_images(self, project, compose_file):
        """Build the images compose_file builds, as `docker compose build` would, but with
        the host's network (the only way to PyPI here) and without touching the file."""
        config = json.loads(
            self.compose(project, "config", "--format", "json", files=[compose_file]).stdout
        )
        builds = {
            service["image"]: service["build"]
            for service in config["services"].values()
            if "build" in service
        }
        for image, build in builds.items():
            context = Path(build["context"])
            self.provide_images_named(base_images(context / build["dockerfile"]))
            self.docker(
                "build", "--network=host", "--quiet", "--tag", image,
                "--file", context / build["dockerfile"], context,
                timeout=1800,
            )  # fmt: skip

    def provide_images(self, project, *compose_files):
        """Stand-ins for every image the compose files run without building it."""
        config = json.loads(
            self.compose(project, "config", "--format", "json", files=compose_files).stdout
        )
        self.provide_images_named(
            service["image"] for service in config["services"].values() if "build" not in service
        )

    def provide_images_named(self, references):
        for reference in references:
            if reference not in self._provided:
                self._provide_standin(reference)
                self._provided.add(reference)

    def _provide_standin(self, reference):
        repository = reference.rsplit(":", 1)[0]
        if repository not in STANDIN_RECIPES:
            raise RuntimeError(f"no stand-in recipe in {STANDINS} for the image {reference}")
        recipe = STANDINS / STANDIN_RECIPES[repository]
        base = self._base_image()
        key = digest(base, *recipe_files(recipe))
        if self.image_label(reference, RECIPE_LABEL) == key:
            return
        self.docker(
            "build", "--network=host", "--quiet", "--build-arg", f"BASE={base}",
            "--label", f"{RECIPE_LABEL}={key}", "--tag", reference, recipe,
            timeout=1800,
        )  # fmt: skip

    def _base_image(self):
        """The minimal Debian root of tests/debian_root.py, imported once and kept."""
        key = debian_root.minbase_key()
        reference = f"standin-{debian_root.SUITE}:{key}"
        if self.image_label(reference, RECIPE_LABEL) == key:
            return reference
        rootfs = debian_root.minbase()
        with subprocess.Popen(
            ["tar", "-C", rootfs, "--exclude=./.complete", "-c", "."], stdout=subprocess.PIPE
        ) as tar:
            self.docker(
                "import", "--change", f"LABEL {RECIPE_LABEL}={key}", "-", reference,
                stdin=tar.stdout, timeout=600,
            )  # fmt: skip
        return reference


def unmount_below(directory):
    """Unmount what is still mounted under directory: dockerd leaves the default network
    namespace it made mounted in its exec root after it exits."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{directory}/")), reverse=True):
        run(["umount", mount], check=False)


def base_images(dockerfile):
    """The images a Dockerfile's stages start FROM, leaving out its own earlier stages."""
    images, stages = [], set()
    for match in re.finditer(
        r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", Path(dockerfile).read_text(), re.M | re.I
    ):
        if match[1] not in stages:
            images.append(match[1])
        if match[2]:
            stages.add(match[2])
    return images
