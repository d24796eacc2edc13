"""The report archive: files written once with their digest, read back only when unchanged,
listed within a unit scope, purged with their rows."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controller.reports import archive
from controller.reports.generate import Generated, generate
from controller.reports.period import parse
from controller.store import report_archive
from controller.store.models import ReportArchive
from controller.store.scope import unit_subtree
from tests.unit.controller.reports.schedules.support import (
    COMMUNE,
    DEC_1,
    DISTRICT,
    OTHER,
    UNITS_REPORT,
)


def made(s: Session, unit: str, at: datetime, period: str = "2026-11") -> Generated:
    scope = unit_subtree(s, unit)
    return generate(
        s,
        UNITS_REPORT,
        unit_id=unit,
        scope=scope,
        period=parse(period),
        fmt="csv",
        lang="vi",
        now=at,
    )


def keep(sessions: sessionmaker[Session], data_dir: Path, unit: str, at: datetime) -> int:
    with sessions() as s:
        row = archive.save(s, data_dir, made(s, unit, at), generated_by="cli:tester")
        s.commit()
        return row.id


def test_a_saved_report_reads_back_verified(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as s:
        generated = made(s, COMMUNE, DEC_1)
        row = archive.save(s, tmp_path, generated, generated_by="Nguyễn Văn An")
        s.commit()

    back = archive.read_verified(tmp_path, row)

    assert back.content == generated.content
    assert back.sha256 == hashlib.sha256(generated.content).hexdigest() == row.sha256
    assert back.filename == f"{UNITS_REPORT}_{COMMUNE}_2026-11.csv"
    assert back.media_type == "text/csv; charset=utf-8"
    assert row.size_bytes == len(generated.content)
    # Nothing half-written is left next to it.
    assert [p.name for p in (tmp_path / "reports" / "2026" / "12").iterdir()] == [
        f"{row.id}_{UNITS_REPORT}_{COMMUNE}_2026-11.csv"
    ]
    assert (tmp_path / "reports" / "2026").stat().st_mode & 0o777 == 0o750


def test_a_missing_or_changed_file_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    first = keep(sessions, tmp_path, COMMUNE, DEC_1)
    second = keep(sessions, tmp_path, OTHER, DEC_1)
    with sessions() as s:
        changed = s.get(ReportArchive, first)
        gone = s.get(ReportArchive, second)
    assert changed is not None and gone is not None
    path = archive.root(tmp_path) / changed.path
    path.write_bytes(path.read_bytes() + b"\n")
    (archive.root(tmp_path) / gone.path).unlink()

    with pytest.raises(archive.ArchiveIntegrityError) as integrity:
        archive.read_verified(tmp_path, changed)
    with pytest.raises(archive.ArchiveMissingError, match=f"report archive {second}: file"):
        archive.read_verified(tmp_path, gone)

    assert str(integrity.value).startswith(f"report archive {first}: file {changed.path} changed")
    assert str(integrity.value).endswith("not served")


def test_a_stored_path_outside_the_archive_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    archive_id = keep(sessions, tmp_path, COMMUNE, DEC_1)
    (tmp_path / "config.yaml").write_text("database_url: null\n", encoding="utf-8")
    with sessions() as s:
        row = s.get(ReportArchive, archive_id)
        assert row is not None
        row.path = "../config.yaml"
        s.commit()

    with pytest.raises(
        archive.ArchiveError, match=re.escape("stored path '../config.yaml' is not valid")
    ):
        archive.read_verified(tmp_path, row)


def test_listing_and_reading_stay_in_the_unit_scope(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    commune = keep(sessions, tmp_path, COMMUNE, DEC_1)
    other = keep(sessions, tmp_path, OTHER, DEC_1 + timedelta(minutes=1))
    district = keep(sessions, tmp_path, DISTRICT, DEC_1 + timedelta(minutes=2))

    with sessions() as s:
        commune_scope = unit_subtree(s, COMMUNE)
        everything = [r.id for r in report_archive.list_rows(s, None)]
        in_commune = [r.id for r in report_archive.list_rows(s, commune_scope)]
        below_district = [
            r.id
            for r in report_archive.list_rows(
                s, None, report_archive.ArchiveFilter(units=unit_subtree(s, DISTRICT))
            )
        ]
        by_period = report_archive.list_rows(
            s, None, report_archive.ArchiveFilter(period="2026-10")
        )
        hidden = report_archive.get(s, other, commune_scope)
        visible = report_archive.get(s, commune, commune_scope)

    assert everything == [district, other, commune]  # newest first
    assert in_commune == [commune]
    assert below_district == [district, other, commune]
    assert by_period == []
    assert hidden is None
    assert visible is not None and visible.unit_id == COMMUNE


def test_purge_removes_old_rows_and_their_files(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    old = keep(sessions, tmp_path, COMMUNE, DEC_1 - timedelta(days=800))
    recent = keep(sessions, tmp_path, OTHER, DEC_1)
    with sessions() as s:
        rows = {row.id: row for row in s.scalars(select(ReportArchive))}
    old_file = archive.root(tmp_path) / rows[old].path
    assert old_file.exists()

    with sessions() as s:
        purged = archive.purge(s, tmp_path, before=DEC_1 - timedelta(days=730))
        s.commit()

    assert (purged.rows, purged.files) == (1, 1)
    with sessions() as s:
        assert [row.id for row in s.scalars(select(ReportArchive))] == [recent]
    assert not old_file.exists()
    # The emptied month and year folders went with it; the recent file stayed.
    assert not old_file.parent.exists()
    assert not old_file.parent.parent.exists()
    assert (archive.root(tmp_path) / rows[recent].path).exists()
