"""The agent's state directory: identity round trip, corrupt files, key permissions, backups."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agent import keys
from agent.errors import AgentError
from agent.state import (
    AgentState,
    backup_state,
    ensure_state_dir,
    file_stamp,
    load_key,
    load_state,
    save_key,
    save_state,
    state_paths,
    write_atomic,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def _state(**changes: str) -> AgentState:
    fields: dict[str, Any] = {
        "controller_url": "https://govguard.local:8443",
        "server_hostname": "govguard.local",
        "agent_id": "0123456789abcdef",
        "key_id": "fedcba9876543210",
        "status": "active",
        "enrolled_at": "2026-11-28T10:00:00Z",
    }
    fields.update(changes)
    return AgentState(**fields)


def test_state_paths_layout(tmp_path: Path) -> None:
    paths = state_paths(tmp_path)
    assert [p.name for p in paths] == [
        "identity.json",
        "agent.key",
        "ca.pem",
        "outbox.sqlite",
        "settings.json",
        "seq-ceiling",
    ]
    assert all(p.parent == tmp_path for p in paths)


def test_not_enrolled_is_none(tmp_path: Path) -> None:
    assert load_state(tmp_path / "missing") is None
    assert load_state(tmp_path) is None


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    save_state(state_dir, _state(status="pending"))
    assert load_state(state_dir) == _state(status="pending")
    # Nothing but the identity file is left behind (no temporary files).
    assert sorted(p.name for p in state_dir.iterdir()) == ["identity.json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"{not json", "corrupt", id="not JSON"),
        pytest.param(b"", "corrupt", id="empty file"),
        pytest.param(b'{"agent_id": "0123456789abcdef"}', "corrupt", id="fields missing"),
        pytest.param(
            b'{"controller_url": "https://x", "server_hostname": "x", "agent_id": "XYZ",'
            b' "key_id": "fedcba9876543210", "status": "active", "enrolled_at": "t"}',
            "corrupt",
            id="agent id not hex",
        ),
    ],
)
def test_corrupt_identity_is_a_clear_error(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "identity.json").write_bytes(content)
    with pytest.raises(AgentError, match=expected) as info:
        load_state(tmp_path)
    message = str(info.value)
    assert "identity.json" in message
    assert "--force" in message
    assert "\n" not in message


@posix_only
def test_state_dir_created_0700_and_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    ensure_state_dir(fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    ensure_state_dir(loose)
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


@posix_only
def test_private_key_file_is_0600_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)  # the mode must come from os.open, not from a friendly umask
    try:
        ensure_state_dir(tmp_path / "s")
        key = keys.generate()
        save_key(state_paths(tmp_path / "s").key, key)
    finally:
        os.umask(old)
    key_file = state_paths(tmp_path / "s").key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys.public_raw(load_key(tmp_path / "s")) == keys.public_raw(key)


@posix_only
def test_write_atomic_sets_mode_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "settings.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_atomic(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(None, "missing; enroll again", id="missing"),
        pytest.param(b"garbage", "not a PEM private key", id="garbage"),
    ],
)
def test_load_key_errors(tmp_path: Path, content: bytes | None, expected: str) -> None:
    if content is not None:
        state_paths(tmp_path).key.write_bytes(content)
    with pytest.raises(AgentError, match=expected):
        load_key(tmp_path)


def test_backup_state_renames_existing_files_with_a_time_stamp(tmp_path: Path) -> None:
    save_state(tmp_path, _state())
    paths = state_paths(tmp_path)
    paths.ca.write_bytes(b"ca")
    paths.outbox.write_bytes(b"db")
    (tmp_path / "outbox.sqlite-wal").write_bytes(b"wal")
    paths.seq_ceiling.write_bytes(b"1001\n")
    backups = backup_state(tmp_path, "20261128T100000Z")
    assert sorted(p.name for p in backups) == [
        "ca.pem.bak-20261128T100000Z",
        "identity.json.bak-20261128T100000Z",
        "outbox.sqlite.bak-20261128T100000Z",
        # Still the WAL of the outbox backup, by SQLite's naming: nothing committed is lost.
        "outbox.sqlite.bak-20261128T100000Z-wal",
        "seq-ceiling.bak-20261128T100000Z",
    ]
    assert load_state(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in backups)
    assert (tmp_path / "ca.pem.bak-20261128T100000Z").read_bytes() == b"ca"


def test_a_second_backup_never_overwrites_the_first(tmp_path: Path) -> None:
    save_state(tmp_path, _state(agent_id="0000000000000001"))
    first = backup_state(tmp_path, "20261128T100000Z")
    save_state(tmp_path, _state(agent_id="0000000000000002"))
    second = backup_state(tmp_path, "20261128T100000Z")  # the same second
    assert [p.name for p in first] == ["identity.json.bak-20261128T100000Z"]
    assert [p.name for p in second] == ["identity.json.bak-20261128T100000Z-2"]
    assert b"0000000000000001" in first[0].read_bytes()
    assert b"0000000000000002" in second[0].read_bytes()


def test_file_stamps_are_utc_and_sort_by_time() -> None:
    moment = datetime(2026, 11, 28, 17, 5, 9, tzinfo=timezone(timedelta(hours=7)))
    assert file_stamp(moment) == "20261128T100509Z"
    assert re.fullmatch(r"\d{8}T\d{6}Z", file_stamp())
