"""The signed envelope, the enrollment token and the agent's keys."""

from __future__ import annotations

import gzip
import os
import re
import stat
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import keys
from agent.envelope import (
    Envelope,
    EnvelopeError,
    body_digest,
    from_header,
    new_report_id,
    parse_stamp,
    signing_bytes,
    to_header,
    utc_stamp,
)
from agent.token import TokenFormatError, format_token, new_token, parse_token, secret_hash

FINGERPRINT = "ab" * 32


def _signed(key: Ed25519PrivateKey, body: bytes, **changes: object) -> Envelope:
    fields: dict[str, object] = {
        "agent_id": "0123456789abcdef",
        "key_id": keys.key_id(keys.public_raw(key)),
        "seq": 7,
        "report_id": new_report_id(),
        "time": "2026-11-28T10:00:00Z",
        "kind": "heartbeat",
        "digest": body_digest(body),
    }
    fields.update(changes)
    return keys.sign(key, Envelope(**fields))  # type: ignore[arg-type]


def test_signed_envelope_survives_the_header_round_trip_and_verifies() -> None:
    key = keys.generate()
    body = gzip.compress(b'{"kind": "heartbeat"}')
    env = _signed(key, body)
    header = to_header(env)
    assert header.startswith("v1;0123456789abcdef;")
    assert len(header) < 300, "the envelope is sent with every 5-minute heartbeat"
    parsed = from_header(header)
    assert parsed == env
    assert keys.verify(keys.public_raw(key), parsed)


@pytest.mark.parametrize(
    "field, value",
    [
        pytest.param("seq", 8, id="another sequence number"),
        pytest.param("agent_id", "fedcba9876543210", id="another agent"),
        pytest.param("kind", "full", id="another kind"),
        pytest.param("time", "2026-11-28T10:00:01Z", id="another time"),
        pytest.param("digest", body_digest(b"other body"), id="another body"),
        pytest.param("report_id", "f" * 32, id="another report id"),
    ],
)
def test_any_changed_field_breaks_the_signature(field: str, value: object) -> None:
    key = keys.generate()
    env = _signed(key, b"body")
    fields = {name: getattr(env, name) for name in Envelope.__struct_fields__}
    fields[field] = value
    assert not keys.verify(keys.public_raw(key), Envelope(**fields))


def test_another_key_does_not_verify() -> None:
    env = _signed(keys.generate(), b"body")
    assert not keys.verify(keys.public_raw(keys.generate()), env)
    assert not keys.verify(b"short", env)


def test_signing_bytes_are_domain_separated() -> None:
    env = _signed(keys.generate(), b"body")
    assert signing_bytes(env).startswith(b"govguard-envelope-v1\n")
    assert env.signature.encode() not in signing_bytes(env)


@pytest.mark.parametrize(
    "header, message",
    [
        pytest.param("", "9 fields", id="empty"),
        pytest.param("v2;" + ";".join(["x"] * 8), "unsupported envelope version", id="version"),
        pytest.param("v1;XYZ;" + ";".join(["x"] * 7), "agent id", id="agent id"),
        pytest.param("x" * 600, "too long", id="too long"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(header: str, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        from_header(header)


@pytest.mark.parametrize(
    "seq",
    [
        pytest.param("0", id="zero"),
        pytest.param("-1", id="negative"),
        pytest.param("01", id="leading zero"),
        pytest.param("²", id="a Unicode digit"),
        pytest.param("١٢", id="Arabic-Indic digits"),
        pytest.param(str(2**63), id="over 64 bits"),
    ],
)
def test_sequence_numbers_must_be_positive_64_bit(seq: str) -> None:
    env = _signed(keys.generate(), b"body")
    parts = to_header(env).split(";")
    parts[3] = seq
    with pytest.raises(EnvelopeError, match="sequence number"):
        from_header(";".join(parts))


@pytest.mark.parametrize(
    "report_id",
    [
        pytest.param("a" * 15, id="too short"),
        pytest.param("a" * 33, id="too long"),
        pytest.param("abc+def/ghi=jklmnopq", id="not base64url"),
    ],
)
def test_report_ids_are_base64url_of_a_sane_length(report_id: str) -> None:
    parts = to_header(_signed(keys.generate(), b"body")).split(";")
    parts[4] = report_id
    with pytest.raises(EnvelopeError, match="report id"):
        from_header(";".join(parts))


def test_new_report_ids_are_22_random_base64url_characters() -> None:
    ids = {new_report_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 22 and re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    # Hex UUIDs (older queues, tests) stay valid.
    parts = to_header(_signed(keys.generate(), b"body", report_id=uuid.uuid4().hex)).split(";")
    assert from_header(";".join(parts)).report_id == parts[4]


def test_stamps_are_utc_whole_seconds() -> None:
    moment = datetime(2026, 11, 28, 17, 5, 9, 999, tzinfo=timezone(timedelta(hours=7)))
    assert utc_stamp(moment) == "2026-11-28T10:05:09Z"
    assert parse_stamp("2026-11-28T10:05:09Z") == datetime(2026, 11, 28, 10, 5, 9, tzinfo=UTC)
    with pytest.raises(EnvelopeError):
        parse_stamp("2026-02-30T10:05:09Z")
    with pytest.raises(ValueError, match="naive"):
        utc_stamp(datetime(2026, 1, 1))


def test_token_round_trip_and_refusals() -> None:
    token = new_token(FINGERPRINT)
    text = format_token(token)
    assert parse_token(f"  {text}\n") == token
    assert token.secret not in repr(token)
    assert len(secret_hash(token.secret)) == 64
    with pytest.raises(TokenFormatError, match="govguard tokens create"):
        parse_token("gg1.1234")
    with pytest.raises(ValueError, match="fingerprint"):
        new_token("not hex")


def test_private_key_is_written_owner_only_and_reads_back(tmp_path: Path) -> None:
    key = keys.generate()
    path = tmp_path / "agent.key"
    old_umask = os.umask(0)  # even a permissive umask must not widen the key file
    try:
        keys.save_private(path, key)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.public_raw(keys.load_private(path)) == keys.public_raw(key)


def test_bad_key_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(keys.KeyFileError, match="missing"):
        keys.load_private(tmp_path / "none.key")
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(keys.KeyFileError, match="not a PEM"):
        keys.load_private(tmp_path / "bad.key")
