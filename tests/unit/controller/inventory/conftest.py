"""Organisation files for the inventory tests, and a data directory to import them into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.cli import main

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "inventory"
SMALL = FIXTURES / "small.yaml"
EXAMPLE = Path(__file__).resolve().parents[4] / "inventory" / "example-district.yaml"


@pytest.fixture
def data_dir(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """A data directory made by `govguard init` on the test's database."""
    password = tmp_path / "pw"
    password.write_text("mật khẩu quản trị\n", encoding="utf-8")
    folder = tmp_path / "gg"
    code = main(
        ["init", "--data-dir", str(folder), "--server-name", "govguard.test",
         "--password-file", str(password), "--database-url", db_url]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    yield folder


def variant(tmp_path: Path, old: str, new: str, name: str = "variant.yaml") -> Path:
    """A copy of the small file with one piece of text replaced (which must be there)."""
    text = SMALL.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path
