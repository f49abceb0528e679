"""The template's own Python (hooks, tests, benchmarks) is lint-clean and formatted."""

import subprocess

from tests.conftest import TEMPLATE_DIR, VENV_BIN

PATHS = ["hooks", "tests", "benchmarks"]


def test_ruff_check_and_format_are_clean():
    for command in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [VENV_BIN / "ruff", *command, *PATHS],
            cwd=TEMPLATE_DIR,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
