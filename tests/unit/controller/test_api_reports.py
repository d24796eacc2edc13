"""POST /api/v1/reports end to end: uvicorn over HTTPS on loopback, real Ed25519 keys and
signatures, on SQLite and PostgreSQL. Every refusal of the protocol stores nothing."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from agent import keys
from agent.envelope import Envelope, body_digest, to_header, utc_stamp
from agent.report import Report, encode
from agent.report.identity import Identity
from controller.app import create_app
from controller.pki import create_ca, issue_server_cert
from controller.server import ServeError, serve
from controller.settings import (
    ControllerConfig,
    IngestConfig,
    Settings,
    load_settings,
    settings_for,
)
from controller.store import agents, audit, db, reports, units
from controller.store.models import Report as ReportRow
from tests.support.postgres import TempCluster

UNIT = "xa-an-binh"
HANG_GUARD_S = 60


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tls_files() -> tuple[bytes, bytes, bytes]:
    """CA certificate, server certificate and key for localhost (made once per module)."""
    ca_cert, ca_key = create_ca("govguard test CA")
    cert, key = issue_server_cert(ca_cert, ca_key, ["localhost", "127.0.0.1"])
    return ca_cert, cert, key


def make_settings(tmp_path: Path, tls: tuple[bytes, bytes, bytes], **ingest: int) -> Settings:
    """A data directory with TLS files and the given ``ingest`` limits."""
    data_dir = tmp_path / "data"
    (data_dir / "tls").mkdir(parents=True, exist_ok=True)
    for name, pem in zip(("ca.crt", "server.crt", "server.key"), tls, strict=True):
        (data_dir / "tls" / name).write_bytes(pem)
    return settings_for(data_dir, ControllerConfig(ingest=IngestConfig(**ingest)))


@contextlib.contextmanager
def serving(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    """The controller app under uvicorn with TLS on a free loopback port; a client for it."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, engine=engine),
        ssl_certfile=str(settings.tls_cert),
        ssl_keyfile=str(settings.tls_key),
        server_header=False,
        date_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    verify = ssl.create_default_context(cafile=str(settings.ca_cert))
    client = httpx.Client(base_url=f"https://localhost:{port}", verify=verify, timeout=HANG_GUARD_S)
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(HANG_GUARD_S)
        sock.close()


@dataclass
class Sender:
    """An enrolled agent as the controller knows it, with its private key."""

    id: str
    key_id: str
    key: Ed25519PrivateKey


def add_sender(engine: Engine, status: str = "active", agent_id: str | None = None) -> Sender:
    """Insert an agent row with a fresh key straight into the store."""
    key = keys.generate()
    public = keys.public_raw(key)
    sender = Sender(agent_id or uuid.uuid4().hex[:16], keys.key_id(public), key)
    with db.session_factory(engine)() as s, s.begin():
        units.ensure_unit(s, UNIT, "Xã An Bình", kind="commune")
        agents.add_agent(
            s,
            id=sender.id,
            key_id=sender.key_id,
            public_key=public,
            status=status,
            unit_id=UNIT,
            hostname="pc-ke-toan",
            macs=[],
            os="linux",
            agent_version="0.1.0",
        )
    return sender


def report_json(kind: str = "full", **extra: Any) -> bytes:
    """A valid report of ``kind`` as JSON, with extra top-level members."""
    report = Report(
        schema_version=1,
        kind=kind,  # type: ignore[arg-type]
        agent_version="0.1.0",
        collected_at=datetime.now(UTC).replace(microsecond=0),
        identity=Identity(hostname="pc-ke-toan", machine_id="4f1c9e0d"),
    )
    value = json.loads(encode(report))
    value.update(extra)
    return json.dumps(value).encode()


def envelope(
    sender: Sender,
    body: bytes,
    *,
    seq: int = 1,
    kind: str = "full",
    at: datetime | None = None,
    signer: Ed25519PrivateKey | None = None,
    digest_of: bytes | None = None,
    **override: Any,
) -> str:
    """The signed ``GG-Envelope`` header for ``body`` (override fields after signing)."""
    env = Envelope(
        agent_id=sender.id,
        key_id=sender.key_id,
        seq=seq,
        report_id=uuid.uuid4().hex,
        time=utc_stamp(at or datetime.now(UTC)),
        kind=kind,
        digest=body_digest(body if digest_of is None else digest_of),
    )
    env = keys.sign(signer or sender.key, env)
    if override:
        env = msgspec.structs.replace(env, **override)
    return to_header(env)


def post(client: httpx.Client, header: str | None, body: bytes, **headers: str) -> httpx.Response:
    """Send a report as the agent does."""
    sent = {"Content-Type": "application/json", "Content-Encoding": "gzip", **headers}
    if header is not None:
        sent["GG-Envelope"] = header
    return client.post("/api/v1/reports", content=body, headers=sent)


def stored(engine: Engine) -> tuple[int, int]:
    """(reports stored, report.stored audit entries)."""
    with db.session_factory(engine)() as s:
        return reports.count_reports(s), len(audit.list_entries(s, action="report.stored"))


def row(engine: Engine, agent_id: str, seq: int) -> ReportRow:
    """The stored report row (agent_id, seq)."""
    with db.session_factory(engine)() as s:
        found = [r for r in reports.list_reports(s, agent_id) if r.seq == seq]
        assert found, f"report {agent_id}/{seq} not stored"
        return found[0]


@pytest.fixture
def settings(tmp_path: Path, tls_files: tuple[bytes, bytes, bytes]) -> Settings:
    """Small limits so the size tests stay small."""
    return make_settings(tmp_path, tls_files, max_body_bytes=4096, max_decompressed_bytes=65536)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[httpx.Client]:
    """A client of a running controller on the test database."""
    with serving(settings, engine) as new:
        yield new


# --------------------------------------------------------------------------- accepted


def test_full_report_is_stored_with_host_facts(client: httpx.Client, engine: Engine) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json())
    response = post(client, envelope(sender, body, seq=7), body)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["status"] == "stored"
    assert reply["seq"] == 7
    assert reply["settings"]["interval_s"] == 300  # the agent sent no GG-Settings version
    assert stored(engine) == (1, 1)
    assert row(engine, sender.id, 7).body == body  # kept exactly as received
    with db.session_factory(engine)() as s:
        facts = reports.latest_facts(s, sender.id)
        agent = agents.get_agent(s, sender.id)
    assert facts is not None
    assert facts["identity"] == {"hostname": "pc-ke-toan", "machine_id": "4f1c9e0d"}
    assert agent is not None
    assert agent.last_seq == 7


def test_heartbeat_gets_settings_only_when_its_copy_is_stale(
    client: httpx.Client, engine: Engine, settings: Settings
) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json("heartbeat"))
    current = str(settings.settings_version)
    fresh = post(
        client, envelope(sender, body, seq=1, kind="heartbeat"), body, **{"GG-Settings": current}
    )
    stale = post(
        client, envelope(sender, body, seq=2, kind="heartbeat"), body, **{"GG-Settings": "1"}
    )
    # Stored, settings current: nothing to say beyond the status (docs/protocol.md).
    assert fresh.status_code == 204
    assert fresh.content == b""
    assert "content-type" not in fresh.headers
    assert stale.status_code == 200
    assert stale.json()["status"] == "stored"
    assert stale.json()["settings"]["version"] == settings.settings_version
    assert stored(engine) == (2, 2)


def test_a_retry_is_a_duplicate_and_stores_nothing_more(
    client: httpx.Client, engine: Engine
) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json())
    header = envelope(sender, body, seq=3)
    first = post(client, header, body)
    again = post(client, header, body)
    assert first.json()["status"] == "stored"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["seq"] == 3
    assert stored(engine) == (1, 1)


def test_another_report_with_a_taken_seq_is_a_conflict_not_a_duplicate(
    client: httpx.Client, engine: Engine
) -> None:
    # An agent that lost its outbox numbers from 1 again: "duplicate" would make it delete
    # reports the controller never stored.
    sender = add_sender(engine)
    body = gzip.compress(report_json())
    for seq in (1, 2, 3):
        assert post(client, envelope(sender, body, seq=seq), body).status_code == 200
    other = gzip.compress(report_json("heartbeat"))
    conflict = post(client, envelope(sender, other, seq=2, kind="heartbeat"), other)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"] == "seq_conflict"
    assert conflict.json()["last_seq"] == 3
    assert "after 3" in conflict.json()["message"]
    assert stored(engine) == (3, 3)
    # Renumbered after last_seq, it is stored.
    assert post(client, envelope(sender, other, seq=4, kind="heartbeat"), other).is_success
    assert stored(engine) == (4, 4)


def test_concurrent_reports_are_all_stored(client: httpx.Client, engine: Engine) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json("heartbeat"))
    headers = [envelope(sender, body, seq=n, kind="heartbeat") for n in range(1, 41)]
    results: list[int] = []

    def send(header: str) -> None:
        results.append(post(client, header, body).status_code)

    threads = [threading.Thread(target=send, args=(h,)) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD_S)
    assert results == [200] * 40
    assert stored(engine) == (40, 40)


@pytest.mark.parametrize(
    ("agent_ahead", "clock_header", "expected"),
    [
        pytest.param(timedelta(hours=1), False, 3600, id="envelope time an hour ahead"),
        pytest.param(timedelta(days=-2), False, -172800, id="envelope time two days behind"),
        pytest.param(timedelta(days=-1), True, -7200, id="GG-Clock wins over the queue time"),
    ],
)
def test_far_off_clock_is_stored_as_skew(
    client: httpx.Client,
    engine: Engine,
    agent_ahead: timedelta,
    clock_header: bool,
    expected: float,
) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json())
    now = datetime.now(UTC)
    extra = {"GG-Clock": utc_stamp(now - timedelta(hours=2))} if clock_header else {}
    response = post(client, envelope(sender, body, at=now + agent_ahead), body, **extra)
    assert response.status_code == 200, response.text
    skew = row(engine, sender.id, 1).clock_skew_s
    assert skew is not None
    assert abs(skew - expected) < 60


def test_brackets_inside_strings_do_not_count_as_nesting(
    client: httpx.Client, engine: Engine
) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json(note="[" * 200 + '\\"{' * 50))
    response = post(client, envelope(sender, body), body)
    assert response.status_code == 200, response.text


# --------------------------------------------------------------------------- refused senders


SenderCase = Callable[[Engine, bytes], tuple[Sender, str]]


def _forged(engine: Engine, body: bytes) -> tuple[Sender, str]:
    sender = add_sender(engine)
    return sender, envelope(sender, body, signer=keys.generate())


def _unknown(engine: Engine, body: bytes) -> tuple[Sender, str]:
    stranger = Sender("00112233aabbccdd", "0" * 16, keys.generate())
    stranger.key_id = keys.key_id(keys.public_raw(stranger.key))
    return stranger, envelope(stranger, body)


def _with_status(status: str) -> SenderCase:
    def case(engine: Engine, body: bytes) -> tuple[Sender, str]:
        sender = add_sender(engine, status=status)
        return sender, envelope(sender, body)

    return case


def _wrong_key(engine: Engine, body: bytes) -> tuple[Sender, str]:
    sender = add_sender(engine)
    other = keys.generate()
    return sender, envelope(sender, body, signer=other, key_id=keys.key_id(keys.public_raw(other)))


def _bad_digest(engine: Engine, body: bytes) -> tuple[Sender, str]:
    sender = add_sender(engine)
    return sender, envelope(sender, body, digest_of=body + b"tampered")


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        pytest.param(_forged, 401, "bad_signature", id="forged signature"),
        pytest.param(_unknown, 401, "unknown_agent", id="unknown agent"),
        pytest.param(_with_status("revoked"), 403, "revoked", id="revoked agent"),
        pytest.param(_with_status("pending"), 403, "pending_approval", id="pending agent"),
        pytest.param(_wrong_key, 401, "wrong_key", id="another key id"),
        pytest.param(_bad_digest, 401, "bad_digest", id="body does not match the digest"),
    ],
)
def test_refused_sender_stores_nothing(
    client: httpx.Client, engine: Engine, make: SenderCase, status: int, code: str
) -> None:
    body = gzip.compress(report_json())
    _, header = make(engine, body)
    response = post(client, header, body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert stored(engine) == (0, 0)


def test_signature_is_checked_before_the_body_is_decompressed(
    client: httpx.Client, engine: Engine
) -> None:
    sender = add_sender(engine)
    body = b"\x1f\x8bnot really gzip"
    response = post(client, envelope(sender, body, signer=keys.generate()), body)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


# --------------------------------------------------------------------------- refused bodies


def _deep(levels: int) -> bytes:
    return gzip.compress(report_json()[:-1] + b',"x":' + b"[" * levels + b"]" * levels + b"}")


@pytest.mark.parametrize(
    ("body", "kind", "status", "code", "says"),
    [
        pytest.param(b"\x1f\x8b\x08garbage", "full", 400, "bad_gzip", "gzip", id="malformed gzip"),
        pytest.param(report_json(), "full", 400, "bad_gzip", "gzip", id="not compressed"),
        pytest.param(
            gzip.compress(report_json()) + b"trailing",
            "full",
            400,
            "bad_gzip",
            "extra",
            id="bytes after the gzip data",
        ),
        pytest.param(
            gzip.compress(report_json())[:-6],
            "full",
            400,
            "bad_gzip",
            "truncated",
            id="truncated gzip",
        ),
        pytest.param(
            gzip.compress(b'{"schema_version": 1,'),
            "full",
            400,
            "bad_json",
            "JSON",
            id="invalid JSON",
        ),
        pytest.param(
            gzip.compress(report_json(schema_version="one")),
            "full",
            422,
            "schema",
            "$.schema_version",
            id="schema violation",
        ),
        pytest.param(
            gzip.compress(report_json(kind="inventory")),
            "full",
            422,
            "schema",
            "$.kind",
            id="unknown report kind",
        ),
        pytest.param(
            gzip.compress(report_json("heartbeat")),
            "full",
            422,
            "schema",
            "heartbeat",
            id="kind differs from the envelope",
        ),
        pytest.param(
            gzip.compress(report_json(pad="a" * 70000)),
            "full",
            413,
            "too_large",
            "uncompressed",
            id="over the decompressed limit",
        ),
        pytest.param(_deep(30000), "full", 400, "bad_json", "nested", id="nested very deep"),
        pytest.param(
            gzip.compress(report_json()[:-1] + b',"x":"a\x00b"}'),
            "full",
            400,
            "bad_json",
            "NUL",
            id="raw NUL byte",
        ),
        pytest.param(
            gzip.compress(report_json(x="a\x00b")),
            "full",
            400,
            "bad_json",
            "NUL",
            id="escaped NUL character",
        ),
    ],
)
def test_refused_body_stores_nothing(
    client: httpx.Client,
    engine: Engine,
    body: bytes,
    kind: str,
    status: int,
    code: str,
    says: str,
) -> None:
    sender = add_sender(engine)
    response = post(client, envelope(sender, body, kind=kind), body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert says in response.json()["message"]
    assert stored(engine) == (0, 0)


def test_unknown_data_nested_below_the_recursion_guard_is_accepted(
    client: httpx.Client, engine: Engine
) -> None:
    # The typed decoder bounds known fields by the schema and skips unknown ones; only nesting
    # near the interpreter's recursion limit (~1,000) is refused (see "nested very deep").
    sender = add_sender(engine)
    body = _deep(500)
    response = post(client, envelope(sender, body), body)
    assert response.status_code == 200, response.text


def test_over_size_body_is_refused_before_the_agent_is_looked_up(
    client: httpx.Client, engine: Engine
) -> None:
    body = bytes(range(256)) * 20  # 5120 bytes > max_body_bytes 4096
    stranger = Sender("00112233aabbccdd", "0" * 16, keys.generate())
    response = post(client, envelope(stranger, body), body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert stored(engine) == (0, 0)


def test_over_size_streamed_body_is_refused_while_reading(
    client: httpx.Client, engine: Engine
) -> None:
    sender = add_sender(engine)
    body = bytes(range(256)) * 20

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = client.post(
        "/api/v1/reports",
        content=chunks(),
        headers={"GG-Envelope": envelope(sender, body), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert stored(engine) == (0, 0)


@pytest.mark.parametrize(
    ("header", "says"),
    [
        pytest.param(None, "missing", id="no envelope header"),
        pytest.param("v1;abc", "9 fields", id="too few fields"),
        pytest.param(
            "v2;0011223344556677;0011223344556677;1;"
            + "a" * 32
            + ";2026-11-28T08:00:00Z;full;"
            + "A" * 43
            + ";"
            + "B" * 86,
            "version",
            id="unknown version",
        ),
        pytest.param(
            "v1;0011223344556677;0011223344556677;0;"
            + "a" * 32
            + ";2026-11-28T08:00:00Z;full;"
            + "A" * 43
            + ";"
            + "B" * 86,
            "sequence",
            id="sequence zero",
        ),
    ],
)
def test_malformed_envelope_is_refused(
    client: httpx.Client, engine: Engine, header: str | None, says: str
) -> None:
    body = gzip.compress(report_json())
    response = post(client, header, body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_envelope"
    assert says in response.json()["message"]
    assert stored(engine) == (0, 0)


# --------------------------------------------------------------------------- faults


def test_sqlite_locked_is_503_then_recovers(
    tmp_path: Path, tls_files: tuple[bytes, bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short busy timeout so "database is locked" comes after 0.2 s instead of 5 s.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "govguard.db"
    engine = db.make_engine(db.sqlite_url(path))
    try:
        db.upgrade(engine)
        settings = make_settings(tmp_path, tls_files)
        sender = add_sender(engine)
        body = gzip.compress(report_json())
        with serving(settings, engine) as client:
            # Another process holds the write lock (a long migration, a backup tool...).
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            try:
                refused = post(client, envelope(sender, body, seq=1), body)
            finally:
                other.execute("ROLLBACK")
                other.close()
            accepted = post(client, envelope(sender, body, seq=1), body)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert refused.json()["error"] == "unavailable"
        assert accepted.json()["status"] == "stored"
        assert stored(engine) == (1, 1)
    finally:
        engine.dispose()


def test_postgresql_down_is_503_then_recovers_without_restart(
    tmp_path: Path, tls_files: tuple[bytes, bytes, bytes]
) -> None:
    with TempCluster() as cluster:
        engine = db.make_engine(cluster.url("postgres"))
        try:
            db.upgrade(engine)
            settings = make_settings(tmp_path, tls_files)
            sender = add_sender(engine)
            body = gzip.compress(report_json())
            with serving(settings, engine) as client:
                assert post(client, envelope(sender, body, seq=1), body).status_code == 200
                cluster.stop("immediate")
                refused = post(client, envelope(sender, body, seq=2), body)
                health = client.get("/api/v1/health")
                cluster.start()
                accepted = post(client, envelope(sender, body, seq=2), body)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "5"
            assert refused.json()["error"] == "unavailable"
            assert health.status_code == 503
            assert accepted.json()["status"] == "stored"
            assert stored(engine) == (2, 2)
        finally:
            engine.dispose()


def test_unexpected_database_error_is_a_json_500_without_traceback(
    client: httpx.Client, engine: Engine
) -> None:
    sender = add_sender(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_log"))
    body = gzip.compress(report_json())
    response = post(client, envelope(sender, body), body)
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal",
        "message": "Internal error; see the server log.",
    }
    assert "Traceback" not in response.text
    # The writer survives a failed batch: a later report gets the same clean answer.
    again = post(client, envelope(sender, body, seq=2), body)
    assert again.status_code == 500


# --------------------------------------------------------------------------- other routes


def test_ca_health_and_unknown_routes(client: httpx.Client, settings: Settings) -> None:
    ca = client.get("/api/v1/ca")
    assert ca.status_code == 200
    assert ca.headers["content-type"] == "application/x-pem-file"
    assert ca.content == settings.ca_cert.read_bytes()
    assert "server" not in ca.headers
    assert "date" not in ca.headers
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = client.get("/api/v1/reports")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


# --------------------------------------------------------------------------- serve()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_config(data_dir: Path, agents_port: int, admin_port: int | None) -> None:
    admin = "null" if admin_port is None else f"{{host: 127.0.0.1, port: {admin_port}}}"
    (data_dir / "config.yaml").write_text(
        "server_names: [localhost, 127.0.0.1]\n"
        f"listen:\n  agents: {{host: 127.0.0.1, port: {agents_port}}}\n  admin: {admin}\n"
    )


@pytest.mark.parametrize(
    "workers", [pytest.param("1", id="one process"), pytest.param("2", id="two workers")]
)
def test_serve_runs_agents_and_admin_listeners_and_stops_on_sigterm(
    tmp_path: Path, tls_files: tuple[bytes, bytes, bytes], workers: str
) -> None:
    settings = make_settings(tmp_path, tls_files)
    agents_port, admin_port = _free_port(), _free_port()
    _write_config(settings.data_dir, agents_port, admin_port)
    code = (
        "import logging, sys; from pathlib import Path;"
        "logging.basicConfig(level=logging.INFO, format='%(message)s');"
        "from controller.server import serve; from controller.settings import load_settings;"
        "serve(load_settings(Path(sys.argv[1])))"
    )
    log_file = tmp_path / "serve.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(settings.data_dir)],
            stdout=out,
            stderr=out,
            env={**os.environ, "GOVGUARD_WORKERS": workers},
        )
    try:
        verify = ssl.create_default_context(cafile=str(settings.ca_cert))
        with httpx.Client(verify=verify, timeout=5) as client:
            deadline = time.monotonic() + HANG_GUARD_S
            while True:
                assert proc.poll() is None, log_file.read_text()
                try:
                    health = client.get(f"https://localhost:{agents_port}/api/v1/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_file.read_text()
                    time.sleep(0.1)
            ca = client.get(f"https://localhost:{agents_port}/api/v1/ca")
            admin_health = client.get(f"https://127.0.0.1:{admin_port}/api/v1/health")
            admin_ca = client.get(f"https://127.0.0.1:{admin_port}/api/v1/ca")
    finally:
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(HANG_GUARD_S)
    log = log_file.read_text()
    assert health.json() == {"status": "ok"}
    assert "server" not in health.headers
    assert ca.content == settings.ca_cert.read_bytes()
    assert admin_health.status_code == 200
    assert admin_ca.status_code == 404  # agents' routes are not on the admin port
    assert returncode == 0, log
    assert f"listening for agents on https://127.0.0.1:{agents_port}" in log
    assert f"listening for admin on https://127.0.0.1:{admin_port}" in log
    assert "Traceback" not in log
    if workers == "2":
        assert "runs 2 worker processes" in log


def test_serve_refuses_a_taken_port_and_missing_certificates(
    tmp_path: Path, tls_files: tuple[bytes, bytes, bytes]
) -> None:
    settings = make_settings(tmp_path, tls_files)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        _write_config(settings.data_dir, taken.getsockname()[1], None)
        with pytest.raises(ServeError, match=r"cannot listen on 127\.0\.0\.1:"):
            serve(load_settings(settings.data_dir))
    settings.tls_key.unlink()
    with pytest.raises(ServeError, match=r"server\.key: not found"):
        serve(load_settings(settings.data_dir))
