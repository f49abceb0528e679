"""A project generated from one commit of the template takes a later commit's changes with
`cruft update`, keeping its own (docs/updating.md).

The template is a git clone of this repository's HEAD; the test commits a change to it,
as a later template release would. The project is generated with plain cookiecutter, as
the README says, and becomes a git repository with a change of its own.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import VENV_BIN

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run(*command, cwd):
    result = subprocess.run(command, cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip()


def commit_all(directory, message):
    run("git", "add", "--all", cwd=directory)
    run("git", "commit", "--quiet", "--message", message, cwd=directory)
    return run("git", "rev-parse", "HEAD", cwd=directory)


def test_a_later_template_change_applies_over_a_local_change(tmp_path):
    template = tmp_path / "template"
    run("git", "clone", "--quiet", str(TEMPLATE_ROOT), str(template), cwd=tmp_path)
    first = run("git", "rev-parse", "HEAD", cwd=template)
    run(
        sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path / "out"),
        str(template), "project_slug=updated", cwd=tmp_path,
    )  # fmt: skip
    project = tmp_path / "out" / "updated"
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["template"], state["commit"]) == (str(template), first)
    assert state["context"]["cookiecutter"]["project_slug"] == "updated"

    run("git", "init", "--quiet", cwd=project)
    commit_all(project, "Generated")
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nOur own note.\n")
    commit_all(project, "A change of our own")
    settings = template / "{{cookiecutter.project_slug}}" / "config" / "settings" / "base.py"
    settings.write_text(settings.read_text() + "\n# Added by a later template.\n")
    later = commit_all(template, "A later template")
    env_before = (project / ".env").read_text()

    run(str(VENV_BIN / "cruft"), "update", "--skip-apply-ask", cwd=project)

    assert "Our own note." in readme.read_text()
    assert "# Added by a later template." in (project / "config/settings/base.py").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == later
    # The project's own secrets are never replaced by a new render's.
    assert (project / ".env").read_text() == env_before
