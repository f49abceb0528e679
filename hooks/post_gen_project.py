"""Finish the generated project: drop the files of options not chosen, write secrets.

Files that only one option needs are whole files in the template; this hook deletes
the ones the chosen options do not use, so no file carries Jinja branches for them.
It then writes each env file from its committed `.example` (`.env`, and the production
stack's `.env.production*`, one per service), replacing every `change-me-*` placeholder
with a random secret, and `.env.native`: `.env` with the servers on 127.0.0.1, where
compose.servers.yaml publishes them for a run without Docker. Last, it records the
template and commit the project came from, with the answers, in `.cruft.json`, so that
`cruft update` can bring later template changes in (docs: updating). It never touches
the network.
"""

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

# option -> chosen value -> paths (relative to the project) that value does not use.
UNUSED_PATHS = {
    "broker": {
        "rabbitmq": [],
        # Publisher confirms are RabbitMQ's; outbox/confirms.py stays unused on Redis.
        "redis": [
            "outbox/tests/test_confirms.py",
            "background/tests/test_consumer.py",
            ".env.production.rabbitmq.example",
            "compose/production/rabbitmq",
            "compose/common/rabbitmq",
            "compose.cluster.yaml",
            ".env.production.cluster.example",
        ],
    },
    "use_sentry": {
        "n": ["config/sentry.py"],
        "y": [],
    },
    "include_examples": {
        "n": ["examples"],
        "y": [],
    },
}
PLACEHOLDER = re.compile(r"change-me-[a-z0-9-]+")
# Env files that share secrets (a password and the URL that embeds it, in two files):
# the local stack's, and the production stack's, one per service.
ENV_FILE_GROUPS = (
    [".env"],
    [
        ".env.production",
        ".env.production.cluster",
        ".env.production.postgres",
        ".env.production.rabbitmq",
        ".env.production.redis",
    ],
)


def remove_unused_paths(project_dir, options):
    for option, paths_by_value in UNUSED_PATHS.items():
        for relative in paths_by_value[options[option]]:
            path = project_dir / relative
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def fill_placeholders(text, chosen=None):
    """Replace each distinct placeholder with its own secret, the same secret everywhere
    it appears (a password and the URL that embeds it must agree); `chosen` carries the
    secrets from one file of a group to the next."""
    chosen = {} if chosen is None else chosen

    def secret_for(match):
        # 64 characters: Django's deploy check wants a SECRET_KEY of at least 50.
        return chosen.setdefault(match.group(), secrets.token_urlsafe(48))

    return PLACEHOLDER.sub(secret_for, text)


# The local stack's servers, by compose service name: what .env.native points at 127.0.0.1.
SERVER_HOST = re.compile(r"(?<=[@/])(postgres|rabbitmq|redis|mailpit)(?=:)")
NATIVE_HEADER = (
    "# .env for running the site without Docker (README: Run it without Docker): the same\n"
    "# settings, with the servers compose.servers.yaml publishes on 127.0.0.1.\n"
)


def write_env_files(project_dir):
    for group in ENV_FILE_GROUPS:
        chosen = {}
        for name in group:
            example = project_dir / f"{name}.example"
            if example.exists():
                env_file = project_dir / name
                env_file.write_text(fill_placeholders(example.read_text(), chosen))
                env_file.chmod(0o600)
    native = project_dir / ".env.native"
    # .env's settings without its header, which is about compose.
    settings = (project_dir / ".env").read_text().split("\n\n", 1)[1]
    native.write_text(NATIVE_HEADER + "\n" + SERVER_HOST.sub("127.0.0.1", settings))
    native.chmod(0o600)


# Written from each render, never merged by an update: the env files hold this
# project's own secrets.
UPDATE_SKIPS = [
    ".env",
    ".env.native",
    ".env.production",
    ".env.production.cluster",
    ".env.production.postgres",
    ".env.production.rabbitmq",
    ".env.production.redis",
]


def template_source(options):
    """Where the template came from: its absolute path when it was a local checkout (a
    relative path is taken from the directory cookiecutter was started in: PWD, since
    hooks run inside the new project), else the URL or abbreviation it was given."""
    template = options.get("_template", "")
    local = Path(os.environ.get("PWD", "."), template)
    return str(local.resolve()) if local.is_dir() else template


def template_commit(source):
    """The commit of a local git checkout of the template, or None."""
    if not Path(source).is_dir():
        return None
    top = subprocess.run(
        ["git", "-C", source, "rev-parse", "--show-toplevel", "HEAD"],
        capture_output=True,
        text=True,
    )
    lines = top.stdout.split()
    if top.returncode != 0 or Path(lines[0]).resolve() != Path(source).resolve():
        return None
    return lines[1]


def write_cruft_state(project_dir, options):
    """`.cruft.json` as `cruft create` writes it: https://cruft.github.io/cruft/"""
    source = template_source(options)
    answers = {key: value for key, value in options.items() if not key.startswith("_")}
    state = {
        "template": source,
        "commit": template_commit(source),
        "checkout": None,
        "context": {"cookiecutter": {**answers, "_template": source}},
        "directory": None,
        "skip": UPDATE_SKIPS,
    }
    (project_dir / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n")


def main():
    project_dir = Path.cwd()
    # Cookiecutter renders this file with Jinja before running it.
    options = json.loads(r"""{{ cookiecutter | jsonify }}""")
    remove_unused_paths(project_dir, options)
    write_env_files(project_dir)
    write_cruft_state(project_dir, options)
    # The absolute path: the README generates into `..`, where a bare `cd my_site` fails.
    print(
        f"\nCreated {project_dir.name} with random secrets in .env and .env.production*. "
        "Next:\n\n"
        f"    cd {shlex.quote(str(project_dir))}\n"
        "    docker compose up\n\n"
        "then open http://localhost:8000/ (Flower: http://localhost:5555/, "
        "Mailpit: http://localhost:8025/).\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
