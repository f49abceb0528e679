"""The generated project's day-two tooling: its CI workflow is valid, its pre-commit hooks
run and pass, and they pin the ruff the project pins. (Its Makefile's targets run in
tests/test_docker_compose.py, against a running stack.)"""

import os
import re
import subprocess

import pytest

from tests.conftest import VENV_BIN


@pytest.mark.parametrize(
    "options",
    [
        {"broker": "rabbitmq", "result_backend": "django-db"},
        {"broker": "redis", "result_backend": "redis"},
    ],
    ids=lambda options: "-".join(options.values()),
)
def test_the_ci_workflow_validates_against_the_published_schema(bake, options):
    project = bake(**options, project_slug=f"ci_{options['broker']}")
    workflow = project / ".github" / "workflows" / "ci.yml"

    subprocess.run(
        [VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        check=True,
    )
    text = workflow.read_text()
    assert ("rabbitmq:" in text) == (options["broker"] == "rabbitmq")
    # The same server images as the local stack, so CI tests what compose runs.
    compose = (project / "compose.yaml").read_text()
    for image in re.findall(r"image: (\S+:\S+)", text):
        assert f"image: {image}" in compose, image


def test_pre_commit_hooks_run_and_pass_on_a_generated_project(bake, tmp_path):
    project = bake(project_slug="hooked", use_sentry="y")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
    }
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    subprocess.run(["git", "add", "--all"], cwd=project, check=True)

    result = subprocess.run(
        [VENV_BIN / "pre-commit", "run", "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for hook in ("ruff check", "ruff format", "shellcheck", "hadolint"):
        assert re.search(rf"^{hook}\.+Passed$", result.stdout, re.MULTILINE), result.stdout


def test_pre_commit_runs_the_ruff_the_project_pins(bake):
    project = bake(project_slug="pinned_ruff")
    pinned = re.search(r"^ruff==(\S+)", (project / "requirements/local.txt").read_text(), re.M)[1]

    hooks = (project / ".pre-commit-config.yaml").read_text()
    assert set(re.findall(r'"ruff==([^"]+)"', hooks)) == {pinned}
