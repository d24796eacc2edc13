"""`govguard inventory import|export` on SQLite and PostgreSQL: plans, idempotence, round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controller.cli import main
from controller.settings import load_settings
from controller.store import db
from controller.store.models import Asset, AssetMac, AuditEntry, Office, Unit
from tests.unit.controller.inventory.conftest import EXAMPLE, SMALL, variant


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """A session on the data directory's database, to look at what the commands wrote."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _inventory(data_dir: Path, *argv: str) -> int:
    return main(["inventory", *argv, "--data-dir", str(data_dir)])


def _import(data_dir: Path, path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = _inventory(data_dir, "import", str(path), "--lang", "en", *extra)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _counts(store: Session) -> dict[str, int]:
    store.rollback()  # a new snapshot: SQLite (WAL) keeps the old one
    return {
        "units": store.scalar(select(func.count()).select_from(Unit)) or 0,
        "assets": store.scalar(select(func.count()).select_from(Asset)) or 0,
        "audit": store.scalar(select(func.count()).select_from(AuditEntry)) or 0,
    }


def test_the_example_district_imports_then_reimports_with_no_change(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _import(data_dir, EXAMPLE, capsys)
    assert "Assets: 429 added, 0 changed, 0 retired" in out
    assert "  + xa-thanh-mai-pc-01" in out
    before = _counts(store)
    assert before["assets"] == 429
    entry = store.scalars(select(AuditEntry).where(AuditEntry.action == "inventory.imported")).one()
    assert entry.details["counts"]["assets"] == {"added": 429, "changed": 0, "retired": 0}

    out = _import(data_dir, EXAMPLE, capsys)
    assert out.strip() == f"{EXAMPLE}: no changes"
    assert _counts(store) == before  # not even an audit entry


def test_the_summary_is_vietnamese_by_default(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _inventory(data_dir, "import", str(SMALL)) == 0
    out = capsys.readouterr().out
    assert "Tài sản: thêm 3, sửa 0, ngừng sử dụng 0" in out
    assert "đã nhập" in out


def test_changing_one_asset_shows_one_change(
    data_dir: Path, store: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    changed = variant(tmp_path, "    serial: VN000004D", "    serial: VN000004D\n    state: repair")
    out = _import(data_dir, changed, capsys)
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert lines == ["  ~ xa-thanh-mai-printer-01: state"]
    assert "Assets: 0 added, 1 changed, 0 retired" in out
    store.rollback()  # a new snapshot: SQLite (WAL) keeps the old one
    assert store.get(Asset, "xa-thanh-mai-printer-01").state == "repair"  # type: ignore[union-attr]


def test_changing_a_mac_replaces_it(
    data_dir: Path, store: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    changed = variant(
        tmp_path, '["D8:9E:F3:00:00:01"]', '["d8:9e:f3:00:00:01", "d8:9e:f3:00:00:0a"]'
    )
    out = _import(data_dir, changed, capsys)
    assert "  ~ xa-thanh-mai-pc-01: macs" in out
    macs = store.scalars(select(AssetMac.mac).where(AssetMac.asset_id == "xa-thanh-mai-pc-01"))
    assert sorted(macs) == ["d8:9e:f3:00:00:01", "d8:9e:f3:00:00:0a"]
    assert _import(data_dir, changed, capsys).strip().endswith("no changes")


def test_removing_a_unit_retires_it_and_bringing_it_back_revives_it(
    data_dir: Path, store: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    text = SMALL.read_text(encoding="utf-8")
    start = text.index("  - id: huyen-a-phong-noi-vu")
    end = text.index("  - id: xa-thanh-mai\n")
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(text[:start] + text[end:], encoding="utf-8")

    out = _import(data_dir, smaller, capsys)
    assert "Units: 0 added, 0 changed, 1 retired" in out
    assert "  - huyen-a-phong-noi-vu" in out
    assert "  - huyen-a-phong-noi-vu/chuyen-vien" in out
    store.rollback()  # a new snapshot: SQLite (WAL) keeps the old one
    unit = store.get(Unit, "huyen-a-phong-noi-vu")
    assert unit is not None and unit.retired_at is not None  # kept, only retired
    office = store.get(Office, ("huyen-a-phong-noi-vu", "chuyen-vien"))
    assert office is not None and office.retired_at is not None
    # The unit made by `govguard init` is not the file's: never retired.
    root = store.get(Unit, "root")
    assert root is not None and root.retired_at is None

    out = _import(data_dir, SMALL, capsys)
    assert "  ~ huyen-a-phong-noi-vu: retired" in out
    store.rollback()  # a new snapshot: SQLite (WAL) keeps the old one
    assert store.get(Unit, "huyen-a-phong-noi-vu").retired_at is None  # type: ignore[union-attr]


def test_dry_run_writes_nothing(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _counts(store)
    out = _import(data_dir, SMALL, capsys, "--dry-run")
    assert "Assets: 3 added" in out and "dry run: nothing written" in out
    assert _counts(store) == before


INVALID = [
    pytest.param("    kind: desktop\n    unit: xa-thanh-mai\n    office: lanh-dao",
                 "    kind: tablet\n    unit: xa-thanh-mai\n    office: lanh-dao", "kind: tablet",
                 id="schema error"),
    pytest.param("    roles: [clerk]", "    roles: [clerk]\n    unit: xa-a", "unit: xa-a",
                 id="duplicate key"),
    pytest.param("    assigned_user: cb-0002", "    assigned_user: cb-0404", "cb-0404",
                 id="unknown reference"),
    pytest.param("macs: [50:c7:bf:00:00:01]", "macs: [d8:9e:f3:00:00:03]",
                 "macs: [d8:9e:f3:00:00:03]", id="duplicate MAC"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "at"), INVALID)
def test_an_invalid_file_exits_1_with_file_line_and_writes_nothing(
    data_dir: Path,
    store: Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    at: str,
) -> None:
    before = _counts(store)
    path = variant(tmp_path, old, new)
    line = max(
        n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if at in text
    )
    assert _inventory(data_dir, "import", str(path), "--lang", "en") == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    errors = captured.err.strip().splitlines()
    assert errors[0].startswith(f"{path}:{line}: "), errors
    assert errors[-1] == f"govguard: 1 error(s) in {path}; nothing imported"
    assert _counts(store) == before


def test_export_round_trips(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    first = tmp_path / "export.yaml"
    assert _inventory(data_dir, "export", "--out", str(first), "--lang", "en") == 0
    assert capsys.readouterr().out.strip() == f"exported 4 units, 3 assets to {first}"
    assert _import(data_dir, first, capsys).strip() == f"{first}: no changes"
    # Exporting again gives the same text; to stdout without --out.
    assert _inventory(data_dir, "export") == 0
    assert capsys.readouterr().out == first.read_text(encoding="utf-8")


def test_export_of_an_empty_inventory_is_a_valid_file_with_no_units(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _inventory(data_dir, "export") == 0
    assert "units: []" in capsys.readouterr().out


def test_a_missing_file_is_one_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _inventory(data_dir, "import", "/nonexistent/org.yaml", "--lang", "en") == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "/nonexistent/org.yaml: cannot read: No such file or directory"
    assert "Traceback" not in err


def test_a_unit_moves_under_a_new_parent_in_one_import(
    data_dir: Path, store: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    moved = variant(
        tmp_path,
        "  - id: xa-thanh-mai\n    name: UBND xã Thanh Mai\n    kind: commune\n    parent: huyen-a",
        "  - id: cum-xa\n    name: Cụm xã phía Bắc\n    kind: cluster\n    parent: huyen-a\n"
        "  - id: xa-thanh-mai\n    name: UBND xã Thanh Mai\n    kind: commune\n    parent: cum-xa",
    )
    out = _import(data_dir, moved, capsys)
    assert "  + cum-xa" in out and "  ~ xa-thanh-mai: parent" in out
    store.rollback()
    assert store.get(Unit, "xa-thanh-mai").parent_id == "cum-xa"  # type: ignore[union-attr]


def test_retiring_a_unit_in_use_says_so_and_it_takes_no_new_tokens(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _import(data_dir, SMALL, capsys)
    assert main(["tokens", "create", "--data-dir", str(data_dir), "--unit",
                 "huyen-a-phong-noi-vu", "--uses", "3"]) == 0  # fmt: skip
    capsys.readouterr()
    text = SMALL.read_text(encoding="utf-8")
    start = text.index("  - id: huyen-a-phong-noi-vu")
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(text[:start] + text[text.index("  - id: xa-thanh-mai\n") :], "utf-8")
    out = _import(data_dir, smaller, capsys)
    assert (
        "note: unit huyen-a-phong-noi-vu is retired but still has 0 active agent(s) and "
        "1 usable enrollment token(s)"
    ) in out
    assert main(["tokens", "create", "--data-dir", str(data_dir), "--unit",
                 "huyen-a-phong-noi-vu"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "unit 'huyen-a-phong-noi-vu' is retired" in err
