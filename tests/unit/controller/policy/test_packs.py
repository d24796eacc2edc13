"""The shipped packs (bmnn, attt, cqdt): complete, bilingual, sourced, and right on real facts."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.cli import main
from controller.policy import (
    DEFAULT_REFERENCES,
    SHIPPED_PACKS,
    HostContext,
    PolicySet,
    RuleResult,
    evaluate,
    load_installed,
)
from tests.unit.controller.policy.conftest import NOW, REPORT

EXPECTED_IDS = (
    [f"BMNN-{n:02d}" for n in range(1, 11)]
    + [f"ATTT-{n:02d}" for n in range(1, 16)]
    + [f"CQĐT-{n:02d}" for n in range(1, 9)]
    + ["HOST-01"]  # fleet: computers that stop reporting (issue 4, stale hosts)
)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    """What the controller runs with an empty data directory: the shipped packs as they are."""
    return load_installed(tmp_path_factory.mktemp("data"))


def test_every_catalogue_rule_is_shipped_exactly_once(shipped: PolicySet) -> None:
    ids = [rule.id for rule in shipped.rules]
    assert sorted(ids) == sorted(EXPECTED_IDS)
    assert len(ids) == len(set(ids))
    assert {p.id: len(p.rules) for p in shipped.packs} == {
        "attt": 15,
        "bmnn": 10,
        "cqdt": 8,
        "fleet": 1,
    }


def test_every_rule_speaks_vietnamese_and_english(shipped: PolicySet) -> None:
    for rule in shipped.rules:
        for text in (rule.title, rule.rationale):
            assert text.vi and text.en, rule.id
            assert text.vi != text.en, rule.id
    for pack in shipped.packs:
        assert pack.title.vi and pack.title.en and pack.title.vi != pack.title.en


def test_every_rule_cites_a_source_and_every_source_is_cited(shipped: PolicySet) -> None:
    cited = {ref for rule in shipped.rules for ref in rule.references}
    assert all(rule.references for rule in shipped.rules)
    # The loader refuses an unknown id; this guards against dead entries in the other direction.
    assert cited <= set(shipped.references)
    assert set(shipped.references) == cited


def test_every_source_says_how_sure_it_is(shipped: PolicySet) -> None:
    for ref in shipped.references.values():
        assert ref.basis in ("seen", "code", "known", "derived"), ref.id
        assert ref.title.vi != ref.title.en, ref.id
        # Derived entries are govguard's own decisions, and must say so to the reader.
        assert (ref.basis == "derived") == ref.id.startswith("d-"), ref.id
        if ref.basis == "derived":
            assert "[D]" in ref.source, ref.id


def test_rules_whose_catalogue_source_is_derived_cite_a_derived_reference(
    shipped: PolicySet,
) -> None:
    derived = {ref.id for ref in shipped.references.values() if ref.basis == "derived"}
    for rule_id in ("BMNN-03", "BMNN-04", "ATTT-06", "ATTT-12", "ATTT-14", "ATTT-15"):
        (rule,) = [r for r in shipped.rules if r.id == rule_id]
        assert derived & set(rule.references), rule_id


def test_policy_check_without_files_accepts_the_shipped_packs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name, count in (("attt", 15), ("bmnn", 10), ("cqdt", 8)):
        assert f"{SHIPPED_PACKS / (name + '.yaml')}: pack {name} v1, {count} rules, valid" in out


# --- Table-driven pass/fail cases -------------------------------------------------------------

RECENT = "2026-11-20T08:00:00Z"  # 8 days before NOW
OLD = "2026-09-01T08:00:00Z"  # about 3 months before NOW

#: A Windows office laptop that complies with every rule meant for it.
COMPLIANT: dict[str, Any] = {
    "os": {"version": {"family": "windows", "name": "Windows 11 Pro"}, "support": {
        "supported": True, "evaluated_on": "2026-11-28"}},
    "security": {
        "antimalware": [{
            "name": "Microsoft Defender", "source": "defender", "enabled": True,
            "up_to_date": True, "signature_age_days": 0.5,
            "management_agent": "Microsoft Intune", "management_agent_running": True,
        }],
        "updates": {"last_installed_at": RECENT, "pending_security": 0},
        "firewall": {"enabled": True},
        "autorun": {"disabled": True},
        "password_policy": {"min_length": 10, "complexity": True, "lockout_threshold": 5},
        "screen_lock": {"enabled": True, "timeout_seconds": 600},
        "accounts": {
            "users": [{"name": "canbo", "enabled": True}, {"name": "quantri", "enabled": True,
                                                             "admin": True}],
            "admins": ["Administrator"],
            "guest_enabled": False,
        },
        "audit": {"enabled": True},
        "remote_tools": [],
        "time_sync": {"synchronized": True},
        "encryption": [{"volume": "C:", "method": "bitlocker", "protected": True, "system": True}],
        "usb_storage": {"policy": "blocked"},
    },
    "network": {
        "interfaces": [{"name": "lo", "loopback": True, "kind": "loopback", "up": True}],
        "default_routes": [], "radios": [], "profiles": [],
    },
    "connectivity": {
        "internet": {"reachable": True, "dns_ok": True, "succeeded": 2, "total": 2},
        "lan": {"reachable": True, "succeeded": 1, "total": 1},
        "roles": {
            "tslcd": {"reachable": True, "succeeded": 1, "total": 1},
            "document_system": {"reachable": True, "succeeded": 1, "total": 1},
            "email": {"reachable": True, "succeeded": 1, "total": 1},
            "public_service": {"reachable": True, "succeeded": 1, "total": 1},
        },
    },
    "software": {
        "services": [{"name": "VeeamEndpointBackupSvc", "running": True}],
        "vietnamese_text": {"times_new_roman": True,
                            "input_methods": [{"name": "UniKey", "installed": True}]},
    },
    "peripherals": {
        "certificates": [{
            "subject": "CN=Nguyễn Văn A", "issuer": "CN=VNPT Certification Authority",
            "store": "CurrentUser\\My", "days_to_expiry": 200, "issuer_kind": "public_ca",
        }],
        "signing_ports": [{"port": 8987, "listening": True}, {"port": 4433}],
    },
    "asset": {
        "id": "xa-thanh-mai-pc-03", "kind": "laptop", "classification": "normal",
        "state": "in_use", "tags": ["signing-pc", "key-pc"],
        "security_plan_ref": "PA-2026/03", "security_plan_approved_at": "2026-02-01",
        "security_plan_reviewed_at": "2026-02-01",
    },
    "controller": {
        "last_report_at": RECENT, "last_bundle_at": RECENT, "network_sightings": 0,
        "office_computers": 3, "office_printers": 1,
    },
}  # fmt: skip

#: Bases the cases start from: an office PC, a classified PC, a copier for secret documents.
BASES: dict[str, dict[str, Any]] = {
    "pc": {},
    "classified": {"asset.classification": "classified", "asset.kind": "desktop"},
    "copier": {"asset.kind": "copier", "asset.tags": ["for-secret-use"]},
}

DELETE = object()


def build(base: str, changes: dict[str, Any]) -> dict[str, Any]:
    """COMPLIANT with the base's and the case's changes (dotted path -> value, or DELETE)."""
    facts = copy.deepcopy(COMPLIANT)
    for path, value in {**BASES[base], **changes}.items():
        *parents, leaf = path.split(".")
        node = facts
        for key in parents:
            node = node.setdefault(key, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return facts


UP = {"name": "eth0", "kind": "wired", "up": True}
KASPERSKY_OFF = {"name": "Kaspersky", "source": "security_center", "enabled": False}
OLD_SIGS = {"name": "Bkav", "source": "security_center", "enabled": True, "signature_age_days": 12}

# (rule, base, changes, outcome, reason code)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("BMNN-01", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-01", "classified", {"network.interfaces": [UP]}, "fail", "check_failed"),
    ("BMNN-01", "classified", {"network.default_routes": [{"family": "ipv4"}]}, "fail",
     "check_failed"),
    ("BMNN-01", "classified", {"controller.last_bundle_at": OLD}, "fail", "check_failed"),
    ("BMNN-01", "pc", {"network.interfaces": [UP]}, "not_applicable",
     "classification_not_applicable"),
    ("BMNN-02", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-02", "classified",
     {"network.profiles": [{"name": "Wi-Fi UBND", "source": "wlan_profile"}]}, "fail",
     "check_failed"),
    ("BMNN-03", "classified", {"network.radios": [
        {"kind": "wifi", "name": "phy0", "enabled": False, "source": "rfkill"}]}, "pass",
     "no_check_holds"),
    ("BMNN-03", "classified", {"network.radios": [
        {"kind": "bluetooth", "name": "hci0", "enabled": True, "source": "rfkill"}]}, "fail",
     "forbidden_match"),
    ("BMNN-03", "classified", {"network.radios": [
        {"kind": "wifi", "name": "Wi-Fi", "source": "PnpDevice"}]}, "fail", "forbidden_match"),
    ("BMNN-04", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-04", "classified", {"controller.network_sightings": 2}, "fail", "check_failed"),
    ("BMNN-04", "classified", {"controller": DELETE}, "error", "fact_missing"),
    ("BMNN-05", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-05", "classified", {"security.usb_storage.policy": "allow_list"}, "pass",
     "all_checks_hold"),
    ("BMNN-05", "classified", {"security.usb_storage.policy": "allowed"}, "fail", "check_failed"),
    ("BMNN-06", "classified", {"security.password_policy.min_length": 8}, "pass",
     "all_checks_hold"),
    ("BMNN-06", "classified", {"security.password_policy.min_length": 7}, "fail", "check_failed"),
    ("BMNN-06", "classified", {"security.password_policy.complexity": False}, "fail",
     "check_failed"),
    ("BMNN-07", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-07", "classified", {"security.accounts.guest_enabled": True}, "fail", "check_failed"),
    ("BMNN-07", "classified", {"security.accounts.users": [
        {"name": n, "enabled": True} for n in ("canbo", "quantri", "nguoikhac")]}, "fail",
     "check_failed"),
    ("BMNN-08", "copier", {}, "pass", "all_checks_hold"),
    ("BMNN-08", "copier", {"controller.network_sightings": 1}, "fail", "check_failed"),
    ("BMNN-08", "copier", {"asset.tags": [], "asset.for_secret_use": True,
                           "controller.network_sightings": 1}, "fail", "check_failed"),
    ("BMNN-08", "copier", {"asset.tags": []}, "not_applicable", "tag_not_applicable"),
    ("BMNN-08", "pc", {"asset.tags": ["for-secret-use"]}, "not_applicable",
     "kind_not_applicable"),
    ("BMNN-09", "classified", {}, "pass", "check_holds"),
    ("BMNN-09", "classified", {"asset.state": "disposed", "asset.sanitisation_ref": "BB-12/2026"},
     "pass", "check_holds"),
    ("BMNN-09", "classified", {"asset.state": "repair"}, "fail", "no_check_holds_any"),
    ("BMNN-10", "classified", {}, "pass", "all_checks_hold"),
    ("BMNN-10", "classified", {"asset.security_plan_reviewed_at": "2025-10-01"}, "fail",
     "check_failed"),
    ("BMNN-10", "classified", {"asset.security_plan_reviewed_at": DELETE}, "fail",
     "check_failed"),
    ("BMNN-10", "classified", {"asset.security_plan_ref": DELETE}, "fail", "check_failed"),
    ("ATTT-01", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-01", "pc", {"security.antimalware": []}, "fail", "check_failed"),
    ("ATTT-01", "pc", {"security.antimalware": [KASPERSKY_OFF]}, "fail", "check_failed"),
    ("ATTT-02", "pc", {}, "pass", "check_holds"),
    ("ATTT-02", "pc", {"security.antimalware": [
        {"name": "ClamAV", "source": "service", "enabled": True, "up_to_date": True}]}, "pass",
     "check_holds"),
    ("ATTT-02", "pc", {"security.antimalware": [OLD_SIGS]}, "fail", "no_check_holds_any"),
    ("ATTT-03", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-03", "pc", {"security.antimalware": [OLD_SIGS]}, "fail", "check_failed"),
    ("ATTT-03", "pc", {"security.antimalware": [{
        "name": "Avast", "source": "security_center", "enabled": True,
        "management_agent_running": True}]}, "fail", "check_failed"),
    ("ATTT-03", "classified", {}, "not_applicable", "classification_not_applicable"),
    ("ATTT-04", "pc", {}, "pass", "check_holds"),
    ("ATTT-04", "pc", {"security.antimalware": [KASPERSKY_OFF]}, "fail", "no_check_holds_any"),
    ("ATTT-04", "pc", {"security.antimalware": [
        OLD_SIGS, {"name": "Microsoft Defender Antivirus", "source": "defender",
                   "enabled": False, "up_to_date": True}]}, "pass", "check_holds"),
    ("ATTT-04", "pc", {"security.antimalware": []}, "pass", "check_holds"),
    ("ATTT-05", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-05", "pc", {"security.updates.last_installed_at": OLD}, "fail", "check_failed"),
    ("ATTT-05", "pc", {"security.updates.pending_security": 3}, "fail", "check_failed"),
    ("ATTT-06", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-06", "pc", {"os.support.supported": False}, "fail", "check_failed"),
    ("ATTT-07", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-07", "pc", {"security.firewall.enabled": False}, "fail", "check_failed"),
    ("ATTT-07", "pc", {"security.firewall": DELETE}, "fail", "check_failed"),
    ("ATTT-08", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-08", "pc", {"security.autorun.disabled": False}, "fail", "check_failed"),
    ("ATTT-09", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-09", "pc", {"security.screen_lock.timeout_seconds": 1800}, "fail", "check_failed"),
    ("ATTT-09", "pc", {"security.password_policy.lockout_threshold": 0}, "fail", "check_failed"),
    ("ATTT-10", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-10", "pc", {"security.accounts.users": [
        {"name": "canbo", "enabled": True, "admin": True}]}, "fail", "check_failed"),
    ("ATTT-10", "pc", {"security.accounts.users": [
        {"name": "canbo", "enabled": False, "admin": True},
        {"name": "quantri", "enabled": True, "admin": True}]}, "pass", "all_checks_hold"),
    ("ATTT-11", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-11", "pc", {"security.audit.enabled": False}, "fail", "check_failed"),
    ("ATTT-12", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-12", "pc", {"security.remote_tools": [
        {"name": "UltraViewer", "evidence": ["installed"]}]}, "fail", "check_failed"),
    ("ATTT-13", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-13", "pc", {"software.services": [{"name": "Spooler"}]}, "fail", "check_failed"),
    ("ATTT-13", "pc", {"asset.tags": []}, "not_applicable", "tag_not_applicable"),
    ("ATTT-14", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-14", "pc", {"security.time_sync.synchronized": False}, "fail", "check_failed"),
    ("ATTT-15", "pc", {}, "pass", "all_checks_hold"),
    ("ATTT-15", "pc", {"security.encryption": [{"volume": "C:", "protected": False,
                                                "system": True}]}, "fail", "check_failed"),
    ("ATTT-15", "pc", {"asset.kind": "desktop"}, "not_applicable", "kind_not_applicable"),
    ("ATTT-15", "pc", {"asset": DELETE}, "error", "kind_unknown"),
    ("CQĐT-01", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-01", "pc", {"connectivity.internet.reachable": False}, "fail", "check_failed"),
    ("CQĐT-01", "classified", {"connectivity.internet.reachable": False}, "not_applicable",
     "classification_not_applicable"),
    ("CQĐT-02", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-02", "pc", {"connectivity.lan.reachable": False}, "fail", "check_failed"),
    ("CQĐT-02", "classified", {}, "not_applicable", "classification_not_applicable"),
    ("CQĐT-03", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-03", "pc", {"connectivity.roles.tslcd": {"reachable": False, "total": 2}}, "fail",
     "check_failed"),
    ("CQĐT-04", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-04", "pc", {"connectivity.roles.email.reachable": False}, "fail", "check_failed"),
    ("CQĐT-05", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-05", "pc", {"peripherals.certificates": [{
        "subject": "CN=A", "issuer": "CN=VNPT Certification Authority", "store": "CurrentUser\\My",
        "days_to_expiry": 12, "issuer_kind": "public_ca"}]}, "fail", "check_failed"),
    ("CQĐT-05", "pc", {"peripherals.certificates": [{
        "subject": "CN=A", "issuer": "CN=Self", "store": "CurrentUser\\My",
        "days_to_expiry": 300}]}, "fail", "check_failed"),
    ("CQĐT-05", "pc", {"asset.tags": []}, "not_applicable", "tag_not_applicable"),
    ("CQĐT-06", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-06", "pc", {"peripherals.signing_ports": [{"port": 8987}, {"port": 4433}]}, "fail",
     "check_failed"),
    ("CQĐT-07", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-07", "pc", {"software.vietnamese_text.times_new_roman": False}, "fail",
     "check_failed"),
    ("CQĐT-07", "pc", {"software.vietnamese_text.input_methods": []}, "fail", "check_failed"),
    ("CQĐT-08", "pc", {}, "pass", "all_checks_hold"),
    ("CQĐT-08", "pc", {"controller.office_printers": 0}, "fail", "check_failed"),
    ("HOST-01", "pc", {"controller.last_report_at": "2026-11-27T08:00:00Z"}, "pass",
     "all_checks_hold"),
    ("HOST-01", "pc", {"controller.last_report_at": OLD}, "fail", "check_failed"),
    ("HOST-01", "classified", {"controller.last_report_at": OLD}, "not_applicable",
     "classification_not_applicable"),
]  # fmt: skip


def run(policies: PolicySet, rule_id: str, facts: dict[str, Any]) -> RuleResult:
    """The result of one shipped rule on facts, in the context the facts give."""
    rules = [r for r in policies.rules if r.id == rule_id]
    (result,) = evaluate(rules, facts, HostContext.from_facts(facts, now=NOW))
    return result


@pytest.mark.parametrize(
    ("rule_id", "base", "changes", "outcome", "code"),
    CASES,
    ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)],
)
def test_rule_outcome(
    shipped: PolicySet,
    rule_id: str,
    base: str,
    changes: dict[str, Any],
    outcome: str,
    code: str,
) -> None:
    result = run(shipped, rule_id, build(base, changes))
    assert (result.outcome, result.reason.code) == (outcome, code), result


def test_every_rule_has_a_passing_and_a_failing_case() -> None:
    for rule_id in EXPECTED_IDS:
        outcomes = {c[3] for c in CASES if c[0] == rule_id}
        assert {"pass", "fail"} <= outcomes, rule_id


def test_a_date_fact_compares_by_age_in_utc(shipped: PolicySet) -> None:
    # NOW is 2026-11-28 12:00 UTC: a review on 2025-11-28 is 365.5 days old, on 2025-11-29 less.
    old = build("classified", {"asset.security_plan_reviewed_at": "2025-11-28"})
    fresh = build("classified", {"asset.security_plan_reviewed_at": "2025-11-29"})
    assert run(shipped, "BMNN-10", old).outcome == "fail"
    assert run(shipped, "BMNN-10", fresh).outcome == "pass"


# --- The real report: a Debian 12 VM, not in the inventory ----------------------------------

#: What an officer expects on that VM (see tests/fixtures/policies/README.md for the machine).
REAL_EXPECTED: dict[str, tuple[str, str]] = {
    "ATTT-01": ("fail", "check_failed"),  # no anti-malware at all
    "ATTT-02": ("fail", "no_check_holds_any"),  # so no fresh signatures either
    "ATTT-03": ("fail", "check_failed"),  # nor a managed product
    "ATTT-04": ("pass", "check_holds"),  # nothing installed was switched off
    "ATTT-05": ("error", "fact_missing"),  # installed recently, pending security count not read
    "ATTT-06": ("pass", "all_checks_hold"),  # Debian 12 is supported until 2028
    "ATTT-07": ("fail", "check_failed"),  # no firewall found
    "ATTT-08": ("error", "fact_unknown"),  # no graphical session: AutoRun not determined
    "ATTT-09": ("fail", "check_failed"),  # pwquality minlen 6
    "ATTT-10": ("pass", "all_checks_hold"),  # no human account administers, no guest
    "ATTT-11": ("fail", "check_failed"),  # auditd not active
    "ATTT-12": ("pass", "all_checks_hold"),  # no remote-control tool
    "ATTT-13": ("not_applicable", "tag_not_applicable"),  # not tagged server / key PC
    "ATTT-14": ("fail", "check_failed"),  # clock not synchronised
    "ATTT-15": ("error", "kind_unknown"),  # not in the inventory: laptop or not is unknown
    **{f"BMNN-{n:02d}": ("not_applicable", "classification_not_applicable")
       for n in (1, 2, 3, 4, 5, 6, 7, 9, 10)},
    "BMNN-08": ("not_applicable", "tag_not_applicable"),  # not a device for secret use
    "CQĐT-01": ("error", "fact_unknown"),  # no Internet target configured in the agent
    "CQĐT-02": ("pass", "all_checks_hold"),  # the gateway answered
    "CQĐT-03": ("error", "fact_unknown"),  # no TSLCD target configured
    "CQĐT-04": ("error", "fact_unknown"),  # no document-system target configured
    "CQĐT-05": ("not_applicable", "tag_not_applicable"),  # not a signing PC
    "CQĐT-06": ("not_applicable", "tag_not_applicable"),
    "CQĐT-07": ("fail", "check_failed"),  # no Times New Roman
    "CQĐT-08": ("error", "fact_missing"),  # the controller's office counts are not in a file
    "HOST-01": ("error", "fact_missing"),  # controller.last_report_at: the controller adds it
}  # fmt: skip


def test_outcomes_on_a_real_report(shipped: PolicySet) -> None:
    facts = json.loads(REPORT.read_text(encoding="utf-8"))
    results = evaluate(shipped.rules, facts, HostContext.from_facts(facts, now=NOW))
    got = {r.rule_id: (r.outcome, r.reason.code) for r in results}
    assert got == REAL_EXPECTED


def test_a_real_report_as_a_classified_pc(shipped: PolicySet) -> None:
    # The same VM declared classified: it is networked, so isolation fails loudly.
    facts = json.loads(REPORT.read_text(encoding="utf-8"))
    ctx = HostContext.from_facts(facts, classification="classified", now=NOW)
    got = {r.rule_id: r for r in evaluate(shipped.rules, facts, ctx)}
    assert got["BMNN-01"].outcome == "fail"
    assert got["BMNN-01"].reason.values["fact"] == "network.interfaces"
    assert got["BMNN-02"].outcome == "pass"  # no saved profile or lease on that VM
    assert got["BMNN-05"].outcome == "fail"  # USB storage allowed
    assert got["BMNN-06"].outcome == "fail"  # minlen 6
    assert got["BMNN-04"].outcome == "error"  # sightings come from the controller
    assert got["CQĐT-01"].outcome == "not_applicable"


# --- Operator overrides on the shipped packs --------------------------------------------------


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.read_bytes())
    return h.hexdigest()


def test_overrides_change_shipped_rules_without_editing_them(tmp_path: Path) -> None:
    shipped_files = [*SHIPPED_PACKS.glob("*.yaml"), DEFAULT_REFERENCES]
    before = _digest(shipped_files)
    policies_dir = tmp_path / "policies"
    (policies_dir / "local").mkdir(parents=True)
    (policies_dir / "local" / "references.yaml").write_text(
        yaml.safe_dump({"references": [{
            "id": "xa-quy-che-2026", "title": {"vi": "Quy chế của xã", "en": "Commune rules"},
            "source": "Quy chế CNTT của UBND xã, Điều 4", "basis": "seen"}]}, allow_unicode=True),
        encoding="utf-8",
    )  # fmt: skip
    (policies_dir / "local" / "xa.yaml").write_text(
        yaml.safe_dump({
            "policy": {"id": "xa", "version": 1, "title": {"vi": "Quy tắc xã", "en": "Commune"}},
            "rules": [{
                "id": "XA-01", "title": {"vi": "Có DNS", "en": "Has DNS"},
                "rationale": {"vi": "Cần phân giải tên.", "en": "Names must resolve."},
                "severity": "low", "references": ["xa-quy-che-2026"],
                "checks": [{"fact": "network.dns_servers", "expect": {"count": {"ge": 1}}}],
            }],
        }, allow_unicode=True),
        encoding="utf-8",
    )  # fmt: skip
    (policies_dir / "overrides.yaml").write_text(
        "disable: [ATTT-12, CQĐT-07]\n"
        "params:\n"
        "  ATTT-09: {min_length: 6, max_screen_lock_seconds: 300}\n"
        "  ATTT-10: {allowed_admins: [Administrator]}\n"
        "packs: [local/xa.yaml]\n"
        "references: [local/references.yaml]\n",
        encoding="utf-8",
    )
    policies = load_installed(tmp_path)
    ids = {r.id for r in policies.rules}
    assert "ATTT-12" not in ids and "CQĐT-07" not in ids
    assert set(policies.disabled) == {"ATTT-12", "CQĐT-07"}
    assert "XA-01" in ids
    (attt09,) = [r for r in policies.rules if r.id == "ATTT-09"]
    assert attt09.params == {"min_length": 6, "max_screen_lock_seconds": 300}

    facts = json.loads(REPORT.read_text(encoding="utf-8"))
    # min_length 6 now holds on the VM: ATTT-09 fails further on (complexity off), not on length.
    result = run(policies, "ATTT-09", facts)
    assert result.outcome == "fail"
    assert result.reason.values["fact"] == "security.password_policy.complexity"
    # "quantri" is no longer on the allow-list.
    admin = build("pc", {"security.accounts.users": [
        {"name": "quantri", "enabled": True, "admin": True}]})  # fmt: skip
    assert run(policies, "ATTT-10", admin).outcome == "fail"
    # The screen-lock threshold applies to hand-made facts too: 600 s > 300 s.
    assert run(policies, "ATTT-09", build("pc", {})).reason.values["expected"] == {"le": 300}
    assert run(policies, "XA-01", facts).outcome == "pass"
    assert _digest(shipped_files) == before
