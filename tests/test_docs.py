"""The documentation site builds without warnings."""

import os
import subprocess

from tests.conftest import TEMPLATE_DIR, VENV_BIN


def test_docs_build_strict(tmp_path):
    result = subprocess.run(
        [VENV_BIN / "mkdocs", "build", "--strict", "--site-dir", tmp_path / "site"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").exists()
