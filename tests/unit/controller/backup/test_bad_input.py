"""Bad backups and missing tools: one clear line, exit 1, and nothing restored or left behind."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from controller.backup.manifest import decode, encode
from controller.cli import main
from controller.store import pg_dump

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

Change = Callable[[str, bytes], bytes | None]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line (progress lines may come before it)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.strip().splitlines() if "error" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith("govguard: error: ")
    return errors[0]


def _backup(data_dir: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "backup.tar.gz"
    assert main(["backup", "--data-dir", str(data_dir), "--out", str(archive)]) == 0
    return archive


def _rewrite(
    archive: Path,
    change: Change,
    *,
    fix_manifest: bool = False,
    extra: tuple[tuple[str, bytes], ...] = (),
) -> Path:
    """A copy of ``archive`` with members changed by ``change(name, data)`` (None drops one)
    and ``extra`` ones added; with ``fix_manifest`` the manifest's checksums are recomputed, as
    an attacker would."""
    members: list[tuple[str, bytes]] = []
    with tarfile.open(archive) as tar:
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            new = change(info.name, handle.read())
            if new is not None:
                members.append((info.name, new))
    if fix_manifest:
        manifest = decode(members[0][1])
        content = dict(members[1:])
        files = [
            msgspec.structs.replace(
                item,
                sha256=hashlib.sha256(content[item.name]).hexdigest(),
                size=len(content[item.name]),
            )
            for item in manifest.files
        ]
        members[0] = ("manifest.json", encode(msgspec.structs.replace(manifest, files=files)))
    out = archive.with_name("altered.tar.gz")
    _write_tar(out, [*members, *extra])
    return out


def _write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _nothing_restored(tmp_path: Path, target: Path) -> None:
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_file_that_is_not_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup\n")
    target = tmp_path / "restored"
    assert main(["restore", str(bogus), "--data-dir", str(target)]) == 1
    assert _error(capsys).endswith("notes.txt: not a govguard backup (not a tar.gz archive)")
    _nothing_restored(tmp_path, target)


def test_a_tar_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.tar.gz"
    _write_tar(other, [("etc/passwd", b"root\n")])
    target = tmp_path / "restored"
    assert main(["restore", str(other), "--data-dir", str(target)]) == 1
    assert "not a govguard backup (no manifest.json first)" in _error(capsys)
    _nothing_restored(tmp_path, target)


@sqlite_only
@pytest.mark.parametrize(
    ("change", "fix_manifest", "expected"),
    [
        pytest.param(
            lambda name, data: data.replace(b"server_names", b"server_nameZ")
            if name == "data/config.yaml" else data,
            False,
            "checksum mismatch for data/config.yaml",
            id="a file changed",
        ),
        pytest.param(
            lambda name, data: data[:-1] + bytes([data[-1] ^ 1])
            if name.startswith("database/") else data,
            False,
            "checksum mismatch for database/govguard.db",
            id="a flipped bit in the database",
        ),
        pytest.param(
            lambda name, data: None if name == "data/tls/ca.key" else data,
            False,
            "data/tls/ca.key is missing",
            id="a member removed",
        ),
    ],
)  # fmt: skip
def test_an_altered_archive_is_refused(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: Change,
    fix_manifest: bool,
    expected: str,
) -> None:
    altered = _rewrite(_backup(data_dir, tmp_path), change, fix_manifest=fix_manifest)
    capsys.readouterr()
    target = tmp_path / "restored"
    assert main(["restore", str(altered), "--data-dir", str(target)]) == 1
    assert expected in _error(capsys)
    _nothing_restored(tmp_path, target)


@sqlite_only
def test_a_member_the_manifest_does_not_list(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = (("data/tls/extra-ca.crt", b"planted"),)
    altered = _rewrite(_backup(data_dir, tmp_path), lambda _name, data: data, extra=planted)
    capsys.readouterr()
    target = tmp_path / "restored"
    assert main(["restore", str(altered), "--data-dir", str(target)]) == 1
    assert "'data/tls/extra-ca.crt' is not in the manifest" in _error(capsys)
    _nothing_restored(tmp_path, target)


@sqlite_only
def test_a_truncated_archive(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _backup(data_dir, tmp_path)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    capsys.readouterr()
    target = tmp_path / "restored"
    assert main(["restore", str(cut), "--data-dir", str(target)]) == 1
    assert "cut.tar.gz: the archive is damaged" in _error(capsys)
    _nothing_restored(tmp_path, target)


@sqlite_only
def test_a_backup_from_a_newer_schema_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a newer govguard would write it: the database and the manifest at a revision this
    code does not have (the checksums consistent)."""
    future = "0999"

    def newer(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            manifest = decode(data)
            database = msgspec.structs.replace(manifest.database, revision=future)
            return encode(msgspec.structs.replace(manifest, database=database))
        if name.startswith("database/"):
            copy = tmp_path / "copy.db"
            copy.write_bytes(data)
            with sqlite3.connect(copy) as conn:
                conn.execute("UPDATE alembic_version SET version_num = ?", (future,))
            return copy.read_bytes()
        return data

    altered = _rewrite(_backup(data_dir, tmp_path), newer, fix_manifest=True)
    capsys.readouterr()
    target = tmp_path / "restored"
    assert main(["restore", str(altered), "--data-dir", str(target)]) == 1
    line = _error(capsys)
    assert "the backup's database has schema 0999, newer than this govguard knows" in line
    assert "install govguard 0.1.0 or newer" in line
    _nothing_restored(tmp_path, target)


@postgres_only
def test_missing_pg_dump_and_pg_restore(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    out = tmp_path / "backup.tar.gz"
    args = ["backup", "--data-dir", str(data_dir), "--out", str(out)]
    assert main([*args, "--pg-bindir", str(empty)]) == 1
    line = _error(capsys)
    assert f"pg_dump not found (looked in {empty})" in line
    assert "postgresql-client-" in line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    assert main(args) == 0
    capsys.readouterr()
    target = tmp_path / "restored"
    restore = ["restore", str(out), "--data-dir", str(target), "--yes", "--pg-bindir", str(empty)]
    assert main(restore) == 1
    assert f"pg_restore not found (looked in {empty})" in _error(capsys)
    _nothing_restored(tmp_path, target)


def test_the_installed_pg_dump_reports_its_major_version() -> None:
    path = pg_dump.find_tool("pg_dump", 0).path
    done = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True)
    major = pg_dump.parse_major(done.stdout)
    assert major is not None and major >= 10
    assert path.name == "pg_dump"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        pytest.param("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)", 15, id="Debian 15"),
        pytest.param("pg_restore (PostgreSQL) 17.2", 17, id="17"),
        pytest.param("pg_dump (PostgreSQL) 9.6.24", 9, id="9.6"),
        pytest.param("something else 1.0", None, id="not PostgreSQL"),
    ],
)
def test_parse_major(output: str, major: int | None) -> None:
    assert pg_dump.parse_major(output) == major


def test_an_older_client_is_refused_with_what_to_install() -> None:
    pg_dump.check_major("pg_dump", 16, 15, "a PostgreSQL server of version")  # newer is fine
    with pytest.raises(pg_dump.PgToolError) as caught:
        pg_dump.check_major("pg_dump", 13, 15, "a PostgreSQL server of version")
    assert str(caught.value) == (
        "pg_dump 13 cannot handle a PostgreSQL server of version 15: install the PostgreSQL 15 "
        "client programs (Debian: postgresql-client-15) or pass --pg-bindir"
    )


@sqlite_only
def test_restore_into_a_database_of_the_other_kind(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _backup(data_dir, tmp_path)
    capsys.readouterr()
    target = tmp_path / "restored"
    url = "postgresql://postgres@127.0.0.1/whatever"
    assert main(["restore", str(archive), "--data-dir", str(target), "--database-url", url]) == 1
    assert "holds a sqlite database; it cannot be restored into postgresql" in _error(capsys)
    _nothing_restored(tmp_path, target)


@sqlite_only
def test_a_backup_inside_the_data_directory_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = data_dir / "backups" / "today.tar.gz"
    out.parent.mkdir()
    assert main(["backup", "--data-dir", str(data_dir), "--out", str(out)]) == 1
    assert "inside the data directory; write backups elsewhere" in _error(capsys)
    assert list(out.parent.iterdir()) == []


@sqlite_only
def test_files_configured_outside_the_data_directory_are_named(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They are not in the archive: the operator is told which ones to keep elsewhere."""
    key = tmp_path / "keys" / "id_ed25519"
    with (data_dir / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(f"ssh: {{key_file: {key}}}\n")
    archive = _backup(data_dir, tmp_path)
    out = capsys.readouterr().out
    assert f"not included (outside the data directory, back it up yourself): {key}" in out
    with tarfile.open(archive) as tar:
        assert not [name for name in tar.getnames() if "id_ed25519" in name]


@sqlite_only
def test_a_newer_archive_format_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def newer(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = decode(data)
        return encode(msgspec.structs.replace(manifest, format_version=manifest.format_version + 1))

    altered = _rewrite(_backup(data_dir, tmp_path), newer)
    capsys.readouterr()
    target = tmp_path / "restored"
    assert main(["restore", str(altered), "--data-dir", str(target)]) == 1
    assert "the backup's format version 2 is newer than this govguard reads (1)" in _error(capsys)
    _nothing_restored(tmp_path, target)
