"""The import rules in pyproject.toml hold, and they bite: a wrong import breaks them.

``lint-imports`` runs on a copy of the package in a temporary folder (never on the
checkout), once as it is and once with a deliberately wrong import added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts on the ``callcenter`` package found in ``workdir``."""
    env = {**os.environ, "PYTHONPATH": str(workdir)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(workdir / "pyproject.toml")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "callcenter",
        tmp_path / "callcenter",
        ignore=shutil.ignore_patterns("__pycache__", "locale", "ui"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    """Put ``line`` right after the module's ``from __future__`` import."""
    text = module.read_text()
    anchor = "from __future__ import annotations\n"
    assert anchor in text, module
    module.write_text(text.replace(anchor, anchor + line + "\n", 1))


def test_the_package_keeps_its_import_rules(package_copy: Path) -> None:
    result = lint_imports(package_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    # The copy, not the installed checkout, was analysed.
    assert (
        str(package_copy)
        in subprocess.run(
            [sys.executable, "-c", "import callcenter; print(callcenter.__file__)"],
            cwd=package_copy,
            env={**os.environ, "PYTHONPATH": str(package_copy)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_the_core_importing_the_web_room_breaks_the_rules(package_copy: Path) -> None:
    add_import(package_copy / "callcenter/core/phones.py", "import callcenter.web.access  # wrong")
    result = lint_imports(package_copy)
    assert result.returncode != 0
    assert "The core is pure: no room, service, wiring, nor I/O library BROKEN" in result.stdout
    assert "Nothing but the wiring imports the web room BROKEN" in result.stdout
    assert "callcenter.core.phones -> callcenter.web.access" in result.stdout


def test_an_adapter_importing_another_ones_insides_breaks_the_rules(package_copy: Path) -> None:
    add_import(
        package_copy / "callcenter/agi/server.py", "from callcenter.ami import link  # wrong"
    )
    result = lint_imports(package_copy)
    assert result.returncode != 0
    assert "Rooms do not import each other (directly or through services) BROKEN" in result.stdout
    assert "callcenter.agi.server -> callcenter.ami.link" in result.stdout
