"""``GET /metrics`` through the application: where it is served, the bearer token, and the
ingest counters moved by real signed reports over HTTPS (uvicorn on loopback)."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from controller.app import Surface, create_app
from controller.metrics.http import MetricsTokenError, authorised, read_token
from controller.server import ServeError, check_metrics
from controller.settings import ControllerConfig, MetricsConfig, Settings, settings_for
from tests.unit.controller.metrics.conftest import samples
from tests.unit.controller.test_api_reports import (
    add_sender,
    envelope,
    post,
    report_json,
    serving,
)

TOKEN = "0123456789abcdef0123456789abcdef"  # noqa: S105 - a test token


def with_metrics(settings: Settings, **fields: object) -> Settings:
    """``settings`` of the same data directory with a ``metrics:`` block."""
    config = ControllerConfig(metrics=MetricsConfig(**fields))  # type: ignore[arg-type]
    return settings_for(settings.data_dir, config)


@pytest.fixture
def settings(tmp_path: Path, tls_files: tuple[bytes, bytes, bytes]) -> Settings:
    from tests.unit.controller.test_api_reports import make_settings

    return make_settings(tmp_path, tls_files)


@pytest.fixture(scope="module")
def tls_files() -> tuple[bytes, bytes, bytes]:
    from controller.pki import create_ca, issue_server_cert

    ca_cert, ca_key = create_ca("govguard test CA")
    cert, key = issue_server_cert(ca_cert, ca_key, ["localhost", "127.0.0.1"])
    return ca_cert, cert, key


def status_of(settings: Settings, engine: Engine, surface: Surface) -> int:
    with TestClient(create_app(settings, engine=engine, surface=surface)) as client:
        status: int = client.get("/metrics").status_code
        return status


@pytest.mark.parametrize(
    ("surface", "status"),
    [
        pytest.param("all", 200, id="the only listener serves it"),
        pytest.param("admin", 200, id="the admin listener serves it"),
        pytest.param("agents", 404, id="never on the agents' listener"),
    ],
)
def test_where_metrics_are_served(
    settings: Settings, engine: Engine, surface: Surface, status: int
) -> None:
    assert status_of(settings, engine, surface) == status


def test_disabled_metrics_are_not_served(settings: Settings, engine: Engine) -> None:
    assert status_of(with_metrics(settings, enabled=False), engine, "all") == 404


def test_the_token_guards_the_scrape(settings: Settings, engine: Engine) -> None:
    (settings.data_dir / "metrics-token").write_text(TOKEN + "\n", encoding="utf-8")
    protected = with_metrics(settings, token_file=Path("metrics-token"))
    with serving(protected, engine) as client:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["error"] == "unauthorized"
        wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
        assert wrong.status_code == 401
        basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert samples(ok.content)[("govguard_up", ())] == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(None, "cannot read", id="missing file"),
        pytest.param("short", "at least 16", id="too short"),
        pytest.param("two words here, long enough", "without spaces", id="spaces"),
        pytest.param("", "is empty", id="empty"),
    ],
)
def test_an_unusable_token_file_stops_the_start(
    settings: Settings, engine: Engine, content: str | None, problem: str
) -> None:
    if content is not None:
        (settings.data_dir / "metrics-token").write_text(content, encoding="utf-8")
    broken = with_metrics(settings, token_file=Path("metrics-token"))
    with pytest.raises(MetricsTokenError, match=problem):
        read_token(broken)
    with pytest.raises(ServeError, match=problem):
        check_metrics(broken)
    with pytest.raises(MetricsTokenError):
        create_app(broken, engine=engine)
    # An agents-only listener does not serve metrics and does not need the token.
    create_app(broken, engine=engine, surface="agents")
    # Nor does a controller whose metrics are off.
    check_metrics(with_metrics(settings, enabled=False, token_file=Path("metrics-token")))


def test_an_absolute_token_path(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "token"
    path.parent.mkdir()
    path.write_text(TOKEN, encoding="utf-8")
    assert read_token(with_metrics(settings, token_file=path)) == TOKEN.encode()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        pytest.param(f"Bearer {TOKEN}", True, id="bearer"),
        pytest.param(f"bearer   {TOKEN} ", True, id="scheme in lower case, spaces"),
        pytest.param(None, False, id="no header"),
        pytest.param("Bearer", False, id="no token"),
        pytest.param(f"Bearer {TOKEN}{TOKEN}", False, id="longer"),
        pytest.param("Bearer ẞ" + TOKEN, False, id="not ASCII"),
    ],
)
def test_authorised(header: str | None, ok: bool) -> None:
    assert authorised(header, TOKEN.encode()) is ok


def test_reports_move_the_ingest_counters(settings: Settings, engine: Engine) -> None:
    sender = add_sender(engine)
    body = gzip.compress(report_json())
    header = envelope(sender, body, seq=1)
    with serving(settings, engine) as client:
        assert post(client, header, body).json()["status"] == "stored"
        assert post(client, header, body).json()["status"] == "duplicate"
        assert post(client, None, body).status_code == 400  # no envelope
        assert post(client, header, b"not gzip").status_code == 401  # digest mismatch
        unknown = add_sender(engine, status="revoked")
        assert post(client, envelope(unknown, body), body).status_code == 403
        got = samples(client.get("/metrics").content)

    def requests(outcome: str) -> float:
        return got[("govguard_ingest_requests_total", (("outcome", outcome),))]

    def rejected(reason: str) -> float:
        return got[("govguard_ingest_rejected_total", (("reason", reason),))]

    assert [requests(o) for o in ("stored", "duplicate", "rejected", "unavailable", "error")] == [
        1,
        1,
        3,
        0,
        0,
    ]
    assert (rejected("bad_envelope"), rejected("bad_digest"), rejected("revoked")) == (1, 1, 1)
    assert rejected("other") == 0
    assert got[("govguard_ingest_duration_seconds_count", ())] == 5
    assert got[("govguard_hosts", (("state", "online"), ("unit", "xa-an-binh")))] == 1
    # Nothing of a host, an agent or an address in any label.
    labels = {value for _, pairs in got for _, value in pairs}
    assert sender.id not in labels and "pc-ke-toan" not in labels and "127.0.0.1" not in labels


def test_admin_listener_serves_what_the_agents_listener_counted(
    settings: Settings, engine: Engine
) -> None:
    from controller.metrics import Metrics
    from controller.store.db import session_factory

    shared = Metrics(session_factory(engine))
    agents_app = create_app(settings, engine=engine, surface="agents", metrics=shared)
    admin_app = create_app(settings, engine=engine, surface="admin", metrics=shared)
    with TestClient(agents_app) as agents, TestClient(admin_app) as admin:
        assert agents.post("/api/v1/reports", content=b"x").status_code == 400
        got = samples(admin.get("/metrics").content)
    assert got[("govguard_ingest_rejected_total", (("reason", "bad_envelope"),))] == 1


def test_metrics_of_two_apps_in_one_process_do_not_clash(
    settings: Settings, engine: Engine
) -> None:
    first, second = create_app(settings, engine=engine), create_app(settings, engine=engine)
    with TestClient(first) as one, TestClient(second) as two:
        assert one.post("/api/v1/reports", content=b"x").status_code == 400
        assert (
            samples(one.get("/metrics").content)[
                ("govguard_ingest_requests_total", (("outcome", "rejected"),))
            ]
            == 1
        )
        assert (
            samples(two.get("/metrics").content)[
                ("govguard_ingest_requests_total", (("outcome", "rejected"),))
            ]
            == 0
        )


def test_exposition_is_plain_text(settings: Settings, engine: Engine) -> None:
    with TestClient(create_app(settings, engine=engine)) as client:
        reply = client.get("/metrics")
    assert isinstance(reply, httpx.Response)
    assert b"# TYPE govguard_hosts gauge" in reply.content
    assert b"_created" not in reply.content
