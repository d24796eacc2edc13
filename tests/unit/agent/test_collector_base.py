"""The collector base: failures isolated, unknown facts and fields recorded with their reason."""

from __future__ import annotations

import pytest

from agent.collectors.base import Collector, Facts, count, flag, listing, run_collector
from agent.config import AgentConfig
from agent.errors import FactUnavailable, note_unknown
from agent.report.security import Security, Updates


def _unavailable() -> int:
    raise FactUnavailable("permission denied reading /etc/shadow (run as root)")


def _partly_known() -> Updates:
    note_unknown("pending", "only an online search knows it")
    return Updates(automatic=True)


def test_unavailable_fact_is_none_with_reason() -> None:
    facts = Facts()
    assert facts.get("accounts", _unavailable) is None
    assert facts.unknown == {"accounts": "permission denied reading /etc/shadow (run as root)"}


def test_known_fact_passes_through() -> None:
    facts = Facts()
    assert facts.get("answer", lambda: 42) == 42
    assert facts.unknown == {}


def test_unknown_field_of_a_known_record_is_named_with_its_path() -> None:
    facts = Facts()
    updates = facts.get("updates", _partly_known)
    assert updates == Updates(automatic=True)
    assert facts.unknown == {"updates.pending": "only an online search knows it"}


def test_note_unknown_outside_a_collection_is_harmless() -> None:
    note_unknown("pending", "nobody listens")  # no collection: must neither raise nor linger
    facts = Facts()
    assert facts.get("answer", lambda: 42) == 42
    assert facts.unknown == {}, "a reason noted outside a collection leaked into a later one"


class _Broken(Collector[Security]):
    """Raises an unexpected error."""

    name = "security"
    section = Security

    def collect(self) -> Security:
        raise RuntimeError("disk on fire")


class _Fine(Collector[Security]):
    """Returns a section with one unknown fact."""

    name = "security"
    section = Security

    def collect(self) -> Security:
        facts = Facts()
        return Security(updates=facts.get("updates", _partly_known), unknown=facts.unknown)


def test_a_failing_collector_becomes_an_error_entry() -> None:
    section, run, error = run_collector(_Broken(AgentConfig()))
    assert section is None
    assert run.name == "security" and run.ok is False and run.duration_ms >= 0
    assert error is not None
    assert (error.collector, error.error, error.message) == (
        "security",
        "RuntimeError",
        "disk on fire",
    )


def test_a_working_collector_reports_its_section() -> None:
    section, run, error = run_collector(_Fine(AgentConfig()))
    assert error is None and run.ok is True
    assert isinstance(section, Security)
    assert section.unknown == {"updates.pending": "only an online search knows it"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(flag(None), "unknown", id="flag unknown"),
        pytest.param(flag(True), "yes", id="flag yes"),
        pytest.param(flag(False, no="OFF"), "OFF", id="flag bad answer stands out"),
        pytest.param(listing(None, str), "unknown", id="list unknown"),
        pytest.param(listing([], str, empty="NONE FOUND"), "NONE FOUND", id="looked, found none"),
        pytest.param(listing(["Bkav", "Defender"], str), "Bkav, Defender", id="items"),
        pytest.param(count(None), "unknown", id="count unknown"),
        pytest.param(count([1, 2, 3]), "3", id="count"),
    ],
)
def test_summary_formatting(text: str, expected: str) -> None:
    assert text == expected
