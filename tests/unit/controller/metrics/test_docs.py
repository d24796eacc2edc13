"""docs/metrics.md documents exactly the metrics the controller exposes (names and labels)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from controller.metrics import Metrics
from controller.store import jobs
from controller.store.db import session_factory
from tests.unit.controller.store.district import NOW, build

REPO = Path(__file__).resolve().parents[4]
DOC = REPO / "docs" / "metrics.md"
GRAFANA = REPO / "packaging" / "grafana" / "govguard.json"
ALERTS = REPO / "packaging" / "prometheus" / "alerts.yml"
_ROW = re.compile(r"^\| `(govguard_[a-z_]+)` \| (\w+) \|([^|]*)\|", re.MULTILINE)
_NAME = re.compile(r"\bgovguard_[a-z_]+")


def documented() -> dict[str, tuple[str, set[str]]]:
    """``{name: (type, labels)}`` of the tables of docs/metrics.md."""
    rows = {}
    for name, kind, labels in _ROW.findall(DOC.read_text(encoding="utf-8")):
        assert name not in rows, f"{name} documented twice"
        rows[name] = (kind, set(re.findall(r"`(\w+)`", labels)))
    return rows


@pytest.fixture
def exposed(session: Session, engine: Engine, tmp_path: Path) -> dict[str, tuple[str, set[str]]]:
    """``{name: (type, labels)}`` of a scrape of a district with every kind of figure."""
    build(session, tmp_path)
    with session.begin():
        started = NOW - timedelta(minutes=1)
        jobs.claim(session, "snmp.round", "w", started, every=timedelta(0), lease=timedelta(1))
        jobs.finish(
            session, "snmp.round", "w", NOW, {"devices_ok": 1, "devices_failed": 0}, started=started
        )
    text = Metrics(session_factory(engine), clock=lambda: NOW).exposition().decode()
    found: dict[str, tuple[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("govguard_"):
            continue
        name = f"{family.name}_total" if family.type == "counter" else family.name
        assert family.samples, f"{name} has no sample in this district"
        labels = {key for sample in family.samples for key in sample.labels} - {"le"}
        found[name] = (family.type, labels)
    return found


def test_every_exposed_metric_is_documented_with_its_labels(
    exposed: dict[str, tuple[str, set[str]]],
) -> None:
    assert exposed == documented()


def test_alerts_and_dashboard_use_documented_metrics() -> None:
    names = set(documented())
    # A histogram's series carry suffixes of the documented name.
    suffixes = ("_bucket", "_count", "_sum")

    def known(name: str) -> bool:
        return name in names or any(
            name.endswith(s) and name.removesuffix(s) in names for s in suffixes
        )

    alerts = set(_NAME.findall(ALERTS.read_text(encoding="utf-8")))
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set(_NAME.findall("\n".join(exprs)))
    # The alerts' own names (GovguardUnitStale ...) are capitalised: not matched.
    assert alerts and used
    assert {name for name in alerts | used if not known(name)} == set()
