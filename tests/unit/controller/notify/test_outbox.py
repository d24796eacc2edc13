"""Queuing notices: routes by unit subtree and severity, dedupe keys, digest time, claims."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from controller.notify import Notice, enqueue
from controller.notify.config import NotifyConfig, RouteConfig, SmtpConfig, WebhookConfig
from controller.notify.digest import batches, next_digest_at
from controller.store import notifications as store
from controller.store.db import session_factory
from controller.store.models import Notification
from tests.unit.controller.notify.conftest import COMMUNE, DISTRICT, OTHER_COMMUNE, T0, make_units

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def config(*routes: RouteConfig) -> NotifyConfig:
    return NotifyConfig(
        smtp=SmtpConfig(host="mail.test", from_address="govguard@phudo.gov.vn"),
        webhooks=[WebhookConfig(name="chat", url="https://chat.test/hook", secret_env="HOOK")],  # noqa: S106
        routes=list(routes),
    )


def notice(key: str, unit: str = COMMUNE, severity: str = "critical") -> Notice:
    text = {"vi": "Tiêu đề", "en": "Title"}
    return Notice(key=key, unit_id=unit, severity=severity, kind="finding.opened",
                  subject=text, body=text, occurred_at=T0)  # fmt: skip


def recipients(session: Session) -> list[tuple[str, str, str, bool]]:
    found = session.scalars(select(Notification).order_by(Notification.id))
    return [(row.channel, row.recipient, row.language, row.digest) for row in found]


def test_district_route_covers_its_communes_and_commune_routes_only_their_own(
    session: Session,
) -> None:
    make_units(session)
    routes = config(
        RouteConfig(unit=DISTRICT, email=["huyen@phudo.gov.vn"], webhooks=["chat"]),
        RouteConfig(unit=COMMUNE, email=["xa@anbinh.gov.vn"], language="en"),
        RouteConfig(unit=OTHER_COMMUNE, email=["xa@tanlap.gov.vn"]),
    )

    enqueue(session, notice("k1", COMMUNE), routes, now=T0)

    assert recipients(session) == [
        ("email", "huyen@phudo.gov.vn", "vi", False),
        ("webhook", "chat", "vi", False),
        ("email", "xa@anbinh.gov.vn", "en", False),
    ]


def test_route_without_unit_covers_everything_and_severity_filters(session: Session) -> None:
    make_units(session)
    routes = config(
        RouteConfig(min_severity="high", email=["it@phudo.gov.vn"]),
        RouteConfig(min_severity="info", email=["log@phudo.gov.vn"]),
    )

    enqueue(session, notice("high", DISTRICT, "high"), routes, now=T0)
    enqueue(session, notice("low", OTHER_COMMUNE, "low"), routes, now=T0)

    rows = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(row.event_key, row.recipient) for row in rows] == [
        ("high", "it@phudo.gov.vn"),
        ("high", "log@phudo.gov.vn"),
        ("low", "log@phudo.gov.vn"),
    ]


def test_same_key_queued_twice_adds_nothing(session: Session) -> None:
    make_units(session)
    routes = config(RouteConfig(email=["it@phudo.gov.vn"], webhooks=["chat"]))

    assert enqueue(session, notice("finding:9:opened"), routes, now=T0) == 2
    assert enqueue(session, notice("finding:9:opened"), routes, now=T0 + timedelta(1)) == 0

    assert len(store.get_by_event(session, "finding:9:opened")) == 2


def test_unknown_unit_or_no_route_queues_nothing(session: Session) -> None:
    make_units(session)
    routes = config(RouteConfig(unit=OTHER_COMMUNE, email=["xa@tanlap.gov.vn"]))
    everything = config(RouteConfig(email=["it@phudo.gov.vn"]))

    assert enqueue(session, notice("a", COMMUNE), routes, now=T0) == 0
    # Even a whole-district route queues nothing for an unknown unit, and the transaction
    # stays usable.
    assert enqueue(session, notice("b", "no-such-unit"), everything, now=T0) == 0
    assert enqueue(session, notice("c", COMMUNE), everything, now=T0) == 1


def test_non_critical_notices_are_due_at_the_next_digest_hour(session: Session) -> None:
    make_units(session)
    enqueue(session, notice("m", severity="medium"), config(RouteConfig(
        min_severity="low", email=["it@phudo.gov.vn"])), now=T0)  # fmt: skip

    [row] = session.scalars(select(Notification)).all()
    assert row.digest
    assert row.next_attempt_at == datetime(2026, 11, 30, 7, 0, tzinfo=HANOI)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param((6, 59), (29, 7), id="before the hour: today"),
        pytest.param((7, 0), (30, 7), id="at the hour: tomorrow"),
        pytest.param((23, 30), (30, 7), id="late evening: tomorrow"),
    ],
)
def test_next_digest_at(local: tuple[int, int], expected: tuple[int, int]) -> None:
    after = datetime(2026, 11, 29, *local, tzinfo=HANOI)
    assert next_digest_at(after, 7, HANOI) == datetime(2026, 11, *expected, tzinfo=HANOI)


def test_a_claimed_row_is_not_claimed_again_until_its_lease_ends(session: Session) -> None:
    make_units(session)
    enqueue(session, notice("c"), config(RouteConfig(email=["it@phudo.gov.vn"])), now=T0)
    session.commit()
    lease = timedelta(minutes=5)

    # Read at once: the session hands out one object per row, updated by later claims.
    first = [row.claimed_by for row in store.claim_due(session, worker="a", now=T0, lease=lease)]
    session.commit()
    second = store.claim_due(session, worker="b", now=T0 + timedelta(minutes=1), lease=lease)
    session.commit()
    # Worker a died without recording anything: b takes over once the lease has passed.
    later = store.claim_due(session, worker="b", now=T0 + timedelta(minutes=6), lease=lease)
    session.commit()

    assert first == ["a"]
    assert second == []
    assert [(row.claimed_by, row.attempts) for row in later] == [("b", 2)]
    # a's late answer must not overwrite b's claim.
    assert store.mark_sent(session, [later[0].id], worker="a", now=T0) == 0
    assert store.mark_sent(session, [later[0].id], worker="b", now=T0) == 1
    session.commit()
    assert store.status_counts(session) == {"sent": 1}


def test_claims_of_two_processes_never_interleave(engine: Engine) -> None:
    """A second claim waits for the first one's transaction (PostgreSQL: an advisory lock;
    SQLite: its write lock), so one recipient's digest is never split between two processes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises claims with its write lock, taken at BEGIN")
    sessions = session_factory(engine)
    route = config(RouteConfig(min_severity="low", email=["it@phudo.gov.vn"]))
    with sessions() as s:
        make_units(s)
        for key in ("d1", "d2", "d3"):
            enqueue(s, notice(key, severity="medium"), route, now=T0)
        s.commit()
    due = T0 + timedelta(days=2)
    lease = timedelta(minutes=5)
    second: list[list[Notification]] = []

    def claim_b() -> None:
        with sessions() as s:
            second.append(store.claim_due(s, worker="b", now=due, lease=lease))
            s.commit()

    with sessions() as a:
        first = store.claim_due(a, worker="a", now=due, lease=lease)
        waiter = threading.Thread(target=claim_b)
        waiter.start()
        # b is waiting on the claim's lock (not skipping rows a has not locked yet).
        deadline = time.monotonic() + 30
        with engine.connect() as watch:
            while not watch.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ):
                assert time.monotonic() < deadline, "the second claim never waited"
                time.sleep(0.02)
        a.commit()
    waiter.join(30)
    assert [row.claimed_by for row in first] == ["a", "a", "a"]
    assert len(batches(first)) == 1  # one digest e-mail
    assert second == [[]]


def test_notice_refuses_incomplete_texts_and_unknown_severities() -> None:
    with pytest.raises(ValueError, match="both 'vi' and 'en'"):
        Notice(key="k", unit_id="u", severity="high", kind="x",
               subject={"vi": "chỉ tiếng Việt"}, body={"vi": "a", "en": "b"})  # fmt: skip
    with pytest.raises(ValueError, match="printable"):
        Notice(key="k\r\nBcc: x@y.vn", unit_id="u", severity="high", kind="x",
               subject={"vi": "a", "en": "b"}, body={"vi": "a", "en": "b"})  # fmt: skip
    with pytest.raises(ValueError, match="severity"):
        Notice(key="k", unit_id="u", severity="urgent", kind="x",
               subject={"vi": "a", "en": "b"}, body={"vi": "a", "en": "b"})  # fmt: skip
    with pytest.raises(ValueError, match="aware"):
        Notice(
            key="k",
            unit_id="u",
            severity="high",
            kind="x",
            subject={"vi": "a", "en": "b"},
            body={"vi": "a", "en": "b"},
            occurred_at=datetime(2026, 1, 1),
        )
    assert Notice(key="k", unit_id="u", severity="info", kind="x", subject={"vi": "a", "en": "b"},
                  body={"vi": "a", "en": "b"}).occurred_at.tzinfo is UTC  # fmt: skip
