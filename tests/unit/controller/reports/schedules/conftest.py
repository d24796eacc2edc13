"""Fixtures of the schedule and archive tests: the loopback mail server, the district."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controller.store.db import session_factory
from tests.unit.controller.notify.conftest import free_port, start_smtp
from tests.unit.controller.reports.schedules.support import Mailbox, make_district, registered


@pytest.fixture(scope="module")
def mail_ca() -> trustme.CA:
    """The CA of the loopback mail server's certificate."""
    return trustme.CA()


@pytest.fixture
def mailbox(mail_ca: trustme.CA, tmp_path: Path) -> Iterator[Mailbox]:
    """The notification tests' aiosmtpd on loopback, requiring STARTTLS and a login."""
    controller, handler = start_smtp(mail_ca, tmp_path / "mail-ca.pem", free_port())
    try:
        yield Mailbox(controller.port, tmp_path / "mail-ca.pem", handler)
    finally:
        controller.stop()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the migrated database, with the district and the test definitions."""
    factory = session_factory(engine)
    make_district(factory)
    with registered():
        yield factory
