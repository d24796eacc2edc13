"""The ``data_dir`` fixture: a controller data directory made by ``govguard init``.

Made on the test's database (``db_url``: every test using it runs on SQLite and PostgreSQL),
with an administrator whose password is Vietnamese text, as an officer's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli import main


@pytest.fixture
def data_dir(tmp_path: Path, migrated: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """A data directory made by `govguard init` on the test's database.

    The database already holds the schema (``migrated``), so `init`'s upgrade finds nothing to
    do; `govguard init` on an empty database is tested in tests/unit/controller/test_cli_init.py.
    """
    db_url = migrated
    password = tmp_path / "pw"
    password.write_text("mật khẩu quản trị\n", encoding="utf-8")
    folder = tmp_path / "gg"
    code = main(
        [
            "init",
            "--data-dir",
            str(folder),
            "--server-name",
            "govguard.test",
            "--password-file",
            str(password),
            "--database-url",
            db_url,
        ]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    yield folder
