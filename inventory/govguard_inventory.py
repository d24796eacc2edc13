#!/usr/bin/env python3
"""govguard's dynamic Ansible inventory: the district as the controller's database knows it.

    GOVGUARD_DATA_DIR=/var/lib/govguard ansible-inventory -i inventory/govguard_inventory.py --list

``--list`` prints every group and ``_meta.hostvars``; ``--host NAME`` one host's variables
(docs/inventory.md, "Ansible inventory"). The data directory is ``$GOVGUARD_DATA_DIR``, else
``/var/lib/govguard``, as for ``govguard``. This file is a checkout's way in: it finds govguard
and calls :mod:`controller.remediation.ansible_inventory`, which an installed govguard offers as
the ``govguard-inventory`` command. Ansible runs this file through its first line, so
the ``python3`` found first on PATH may lack govguard's libraries: the script then runs again
with govguard's own interpreter (``$GOVGUARD_PYTHON``, the ``.venv`` of this checkout, or the
one of the ``govguard`` command on PATH). Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Set when this script re-ran itself, so that a second failure stops instead of looping.
_RERUN = "GOVGUARD_INVENTORY_RERUN"


def _fail(message: str) -> None:
    print(f"govguard_inventory: error: {message}", file=sys.stderr)
    sys.exit(1)


def _interpreters() -> list[str]:
    """Pythons that may have govguard installed, most specific first."""
    found = [os.environ.get("GOVGUARD_PYTHON", ""), str(REPO / ".venv" / "bin" / "python")]
    command = shutil.which("govguard")
    if command:
        try:
            with Path(command).open("rb") as script:
                first = script.readline(512).decode("utf-8", "replace")
        except OSError:
            first = ""
        if first.startswith("#!"):
            found.append(first[2:].strip().split(" ")[0])
    return [p for p in found if p and Path(p).is_file() and os.access(p, os.X_OK)]


def _import_controller() -> None:
    """Make ``controller`` importable: this checkout first, else another interpreter."""
    if str(REPO) not in sys.path and (REPO / "controller").is_dir():
        sys.path.insert(0, str(REPO))
    try:
        import sqlalchemy  # noqa: F401

        import controller.remediation.inventory  # noqa: F401
    except ImportError as exc:
        if os.environ.get(_RERUN):
            _fail(f"cannot load govguard ({exc}); set GOVGUARD_PYTHON to govguard's python")
        # Not resolved: a virtual environment's python is a link to the base interpreter.
        current = Path(sys.executable).absolute()
        for python in _interpreters():
            if Path(python).absolute() != current:
                os.environ[_RERUN] = "1"
                # Fixed arguments, no shell: this file and the options Ansible passed.
                os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606
        _fail(f"cannot load govguard ({exc}); set GOVGUARD_PYTHON to govguard's python")


def main() -> None:
    """Find govguard, then answer as :mod:`controller.remediation.ansible_inventory` does."""
    _import_controller()
    from controller.remediation.ansible_inventory import main as answer

    answer()


if __name__ == "__main__":
    main()
