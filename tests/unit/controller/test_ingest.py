"""controller.ingest below the HTTP layer: the cheap body checks, the credential cache and the
batch writer on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from agent import keys
from agent.envelope import Envelope, body_digest
from agent.report import Report, encode
from agent.report.identity import Identity
from controller.ingest import (
    BatchWriter,
    CredentialCache,
    DatabaseUnavailableError,
    Ingest,
    IngestError,
    Limits,
    WriterClosedError,
    clock_skew,
    gunzip,
    has_nul,
    verify_report,
)
from controller.ingest.writer import Answer
from controller.store import agents, db, reports
from controller.store.agents import AgentCredentials
from controller.store.reports import NewReport
from tests.unit.controller.store.factories import full, heartbeat, make_agent

HANG_GUARD_S = 60


# --------------------------------------------------------------------------- body checks


@pytest.mark.parametrize(
    ("text", "found"),
    [
        pytest.param(b'{"a": "b"}', False, id="clean"),
        pytest.param(b'{"a": "b\x00"}', True, id="raw NUL"),
        pytest.param(b'{"a": "b\\u0000"}', True, id="escaped NUL"),
        pytest.param(b'{"a": "b\\\\u0000"}', False, id="backslash then the text u0000"),
        pytest.param(b'{"a": "b\\\\\\u0000"}', True, id="backslash then an escaped NUL"),
    ],
)
def test_has_nul(text: bytes, found: bool) -> None:
    assert has_nul(text) is found


def test_gunzip_caps_the_output() -> None:
    bomb = gzip.compress(b"0" * 10_000_000)
    assert len(bomb) < 20_000
    with pytest.raises(IngestError) as caught:
        gunzip(bomb, 1_000_000)
    assert (caught.value.status, caught.value.code) == (413, "too_large")
    assert gunzip(gzip.compress(b"x" * 1000), 1000) == b"x" * 1000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"plain text", id="not gzip"),
        pytest.param(gzip.compress(b"{}")[:-3], id="truncated"),
        pytest.param(gzip.compress(b"{}") + gzip.compress(b"{}"), id="two members"),
    ],
)
def test_gunzip_refuses_broken_data(body: bytes) -> None:
    with pytest.raises(IngestError) as caught:
        gunzip(body, 1000)
    assert (caught.value.status, caught.value.code) == (400, "bad_gzip")


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        pytest.param(None, -3600.0, id="envelope time without GG-Clock"),
        pytest.param("2026-11-28T10:00:30Z", 30.0, id="GG-Clock"),
        pytest.param("yesterday", -3600.0, id="malformed GG-Clock is ignored"),
    ],
)
def test_clock_skew(clock: str | None, expected: float) -> None:
    received = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
    assert clock_skew(received - timedelta(hours=1), clock, received) == expected


def test_credential_cache_forgets_after_its_lifetime() -> None:
    now = [100.0]
    cache = CredentialCache(ttl_s=3.0, clock=lambda: now[0])
    creds = AgentCredentials(id="a" * 16, key_id="b" * 16, public_key=b"k" * 32, status="active")
    cache.put(creds)
    now[0] += 2.9
    assert cache.get(creds.id) is creds
    now[0] += 0.2
    assert cache.get(creds.id) is None


def test_revocation_takes_effect_when_the_cache_entry_expires(engine: Engine) -> None:
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        make_agent(s, "a1a1a1a1a1a1a1a1")
    ingest = Ingest(sessions, Limits(4096, 65536), batch_max=16, batch_wait_ms=0)
    now = [0.0]
    ingest.credentials = CredentialCache(ttl_s=3.0, clock=lambda: now[0])

    async def status() -> str | None:
        creds = await ingest.lookup("a1a1a1a1a1a1a1a1")
        return None if creds is None else creds.status

    assert asyncio.run(status()) == "active"
    with sessions() as s, s.begin():
        agents.revoke_agent(s, "a1a1a1a1a1a1a1a1", datetime.now(UTC))
    assert asyncio.run(status()) == "active"  # cached: several processes, seconds of delay
    now[0] += 3.5
    assert asyncio.run(status()) == "revoked"


# --------------------------------------------------------------------------- batch writer


def _writer(engine: Engine, **options: int) -> BatchWriter:
    writer = BatchWriter(
        db.session_factory(engine),
        batch_max=options.get("batch_max", 64),
        batch_wait_ms=options.get("batch_wait_ms", 20),
    )
    writer.start()
    return writer


async def _results(futures: Sequence[asyncio.Future[Answer]]) -> list[object]:
    """Each future's outcome, or its exception."""
    done = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), HANG_GUARD_S)
    return list(done)


def test_writer_stores_a_burst_and_answers_after_commit(engine: Engine) -> None:
    sessions = db.session_factory(engine)
    with sessions() as s, s.begin():
        make_agent(s, "b1b1b1b1b1b1b1b1")
        make_agent(s, "b2b2b2b2b2b2b2b2")
    seen_in_db: list[int] = []

    def check_committed(_future: asyncio.Future[Answer]) -> None:
        # Runs as soon as the first request is answered: its row must already be visible to
        # any other connection, i.e. committed.
        with sessions() as other:
            seen_in_db.append(reports.count_reports(other))

    async def scenario() -> tuple[list[object], list[object]]:
        writer = _writer(engine)
        try:
            items = [full("b1b1b1b1b1b1b1b1", n) for n in range(1, 101)]
            items += [
                heartbeat("b2b2b2b2b2b2b2b2", n, security={"firewall": "on"}) for n in range(1, 51)
            ]
            futures = [writer.submit(item) for item in items]
            futures[0].add_done_callback(check_committed)
            first = await _results(futures)
            again = [
                writer.submit(full("b1b1b1b1b1b1b1b1", 5)),
                writer.submit(full("b1b1b1b1b1b1b1b1", 101)),
            ]
            return first, await _results(again)
        finally:
            await asyncio.to_thread(writer.close)

    first, again = asyncio.run(scenario())
    assert first == ["stored"] * 150
    assert again == ["duplicate", "stored"]
    assert seen_in_db and seen_in_db[0] >= 1
    with sessions() as s:
        assert reports.count_reports(s) == 151
        facts = reports.latest_facts(s, "b2b2b2b2b2b2b2b2")
    assert facts == {"security": {"firewall": "on"}}


def test_same_report_twice_in_one_batch_is_stored_once(engine: Engine) -> None:
    with db.session_factory(engine)() as s, s.begin():
        make_agent(s, "c1c1c1c1c1c1c1c1")

    async def scenario() -> list[object]:
        writer = _writer(engine, batch_wait_ms=200)
        try:
            item = full("c1c1c1c1c1c1c1c1", 1)
            return await _results([writer.submit(item), writer.submit(item)])
        finally:
            await asyncio.to_thread(writer.close)

    assert sorted(map(str, asyncio.run(scenario()))) == ["duplicate", "stored"]


def test_one_bad_report_does_not_take_its_batch_down(engine: Engine) -> None:
    with db.session_factory(engine)() as s, s.begin():
        make_agent(s, "d1d1d1d1d1d1d1d1")

    async def scenario() -> list[object]:
        writer = _writer(engine, batch_wait_ms=200)
        try:
            futures = [writer.submit(full("d1d1d1d1d1d1d1d1", n)) for n in (1, 2)]
            # An agent that is not in the table (deleted meanwhile): a foreign key violation.
            futures.append(writer.submit(full("ffffffffffffffff", 1)))
            futures.append(writer.submit(full("d1d1d1d1d1d1d1d1", 3)))
            return await _results(futures)
        finally:
            await asyncio.to_thread(writer.close)

    results = asyncio.run(scenario())
    assert results[:2] + results[3:] == ["stored"] * 3
    assert isinstance(results[2], Exception)
    with db.session_factory(engine)() as s:
        assert reports.count_reports(s) == 3


def test_a_refused_report_is_answered_at_once_and_the_rest_stored(engine: Engine) -> None:
    # Verification runs on the verifier threads: a refusal there is that request's answer and
    # never reaches the batch.
    with db.session_factory(engine)() as s, s.begin():
        make_agent(s, "d2d2d2d2d2d2d2d2")

    def refuse() -> NewReport:
        raise IngestError(401, "bad_signature", "The envelope's signature is not valid.")

    async def scenario() -> list[object]:
        writer = _writer(engine, batch_wait_ms=50)
        try:
            futures = [
                writer.submit(lambda: full("d2d2d2d2d2d2d2d2", 1)),
                writer.submit(refuse),
                writer.submit(full("d2d2d2d2d2d2d2d2", 2)),
            ]
            return await _results(futures)
        finally:
            await asyncio.to_thread(writer.close)

    first, refused, last = asyncio.run(scenario())
    assert (first, last) == ("stored", "stored")
    assert isinstance(refused, IngestError)
    assert refused.code == "bad_signature"
    with db.session_factory(engine)() as s:
        assert reports.count_reports(s) == 2


def test_close_stores_what_is_queued_then_refuses(engine: Engine) -> None:
    with db.session_factory(engine)() as s, s.begin():
        make_agent(s, "e1e1e1e1e1e1e1e1")

    async def scenario() -> list[object]:
        writer = _writer(engine, batch_max=4, batch_wait_ms=50)
        futures = [writer.submit(full("e1e1e1e1e1e1e1e1", n)) for n in range(1, 21)]
        await asyncio.to_thread(writer.close)
        with pytest.raises(WriterClosedError):
            writer.submit(full("e1e1e1e1e1e1e1e1", 21))
        return await _results(futures)

    assert asyncio.run(scenario()) == ["stored"] * 20


def test_sqlite_lock_fails_the_batch_and_the_writer_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short busy timeout so "database is locked" comes after 0.1 s instead of 5 s.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "locked.db"
    engine = db.make_engine(db.sqlite_url(path))

    async def scenario() -> tuple[list[object], list[object]]:
        writer = _writer(engine, batch_wait_ms=0)
        try:
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                failed = await _results([writer.submit(full("f1f1f1f1f1f1f1f1", 1))])
            finally:
                other.execute("ROLLBACK")
                other.close()
            return failed, await _results([writer.submit(full("f1f1f1f1f1f1f1f1", 1))])
        finally:
            await asyncio.to_thread(writer.close)

    try:
        db.upgrade(engine)
        with db.session_factory(engine)() as s, s.begin():
            make_agent(s, "f1f1f1f1f1f1f1f1")
        failed, retried = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert isinstance(failed[0], DatabaseUnavailableError)
    assert retried == ["stored"]


def _signed(
    agent_id: str, key: Ed25519PrivateKey, seq: int, kind: str = "full"
) -> tuple[Envelope, bytes]:
    """A valid signed report of ``kind`` from ``agent_id``: (envelope, gzip body)."""
    report = Report(
        schema_version=1,
        kind=kind,  # type: ignore[arg-type]
        agent_version="0.1.0",
        collected_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
        identity=Identity(hostname="pc-1"),
    )
    body = gzip.compress(encode(report))
    public = keys.public_raw(key)
    env = Envelope(
        agent_id=agent_id,
        key_id=keys.key_id(public),
        seq=seq,
        report_id="2" * 32,
        time="2026-11-28T08:00:05Z",
        kind=kind,
        digest=body_digest(body),
    )
    return keys.sign(key, env), body


def test_a_commit_that_does_not_come_is_answered_with_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database hangs (here: locked for longer than the commit timeout).
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 3000)
    path = tmp_path / "slow.db"
    engine = db.make_engine(db.sqlite_url(path))
    key = keys.generate()
    public = keys.public_raw(key)

    async def scenario() -> IngestError:
        ingest = Ingest(
            db.session_factory(engine),
            Limits(4096, 65536),
            batch_max=1,
            batch_wait_ms=0,
            commit_timeout_s=0.2,
        )
        ingest.start()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            env, body = _signed("a2a2a2a2a2a2a2a2", key, 1)
            waiting = asyncio.ensure_future(ingest.accept(env, body, clock_header=None))
            await asyncio.sleep(0.5)
            ingest.sweep()
            with pytest.raises(IngestError) as caught:
                await asyncio.wait_for(waiting, HANG_GUARD_S)
        finally:
            other.execute("ROLLBACK")
            other.close()
            await ingest.aclose()
        return caught.value

    try:
        db.upgrade(engine)
        with db.session_factory(engine)() as s, s.begin():
            make_agent(s, "a2a2a2a2a2a2a2a2", public_key=public, key_id=keys.key_id(public))
        refused = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert (refused.status, refused.code, refused.retry_after) == (503, "unavailable", 5)
    assert "too long" in refused.message


def test_new_report_for_a_heartbeat_keeps_only_its_sections() -> None:
    key = keys.generate()
    public = keys.public_raw(key)
    env, body = _signed("1" * 16, key, 9, kind="heartbeat")
    creds = AgentCredentials(
        id="1" * 16, key_id=keys.key_id(public), public_key=public, status="active"
    )
    received = datetime(2026, 11, 28, 8, 0, 10, tzinfo=UTC)
    item: NewReport = verify_report(
        env, creds, body, Limits(4096, 65536), clock_header=None, received_at=received
    )
    assert item.sections_json is not None
    assert json.loads(item.sections_json) == {"identity": {"hostname": "pc-1"}}
    assert (item.seq, item.kind, item.body, item.clock_skew_s) == (9, "heartbeat", body, -5.0)
    assert item.sent_at == datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC)
    assert item.collected_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
