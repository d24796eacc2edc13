"""Every operator and outcome of the evaluator, on small hand-made facts."""

from __future__ import annotations

from typing import Any

import pytest

from controller.policy import HostContext
from tests.unit.controller.policy.conftest import NOW, Loader, pack, rule, run_rule

FW_ON = {"security": {"firewall": {"enabled": True, "product": "ufw"}}}
FW_OFF = {"security": {"firewall": {"enabled": False}}}
FW_UNKNOWN = {"security": {"unknown": {"firewall": "nft is not installed"}}}
PORTS = {
    "security": {
        "listening_ports": [
            {"protocol": "tcp", "address": "0.0.0.0", "port": 3389, "process": "xrdp"},
            {"protocol": "tcp", "address": "127.0.0.1", "port": 8987},
            {"protocol": "udp", "address": "0.0.0.0", "port": 5353},
        ]
    }
}
PASSWORD = {"security": {"password_policy": {"min_length": 6, "max_age_days": 90}}}
UPDATES = {"security": {"updates": {"last_installed_at": "2026-11-20T08:00:00Z"}}}
OLD_UPDATES = {"security": {"updates": {"last_installed_at": "2026-01-20T08:00:00Z"}}}
ACCOUNTS = {
    "security": {
        "accounts": {
            # `admin: false` is the schema default, omitted on the wire like in real reports.
            "users": [{"name": "ketoan", "enabled": True}, {"name": "admin1", "admin": True}],
            "admins": ["root", "admin1"],
        }
    }
}


def check(fact: str, expect: Any, **extra: Any) -> dict[str, Any]:
    return {"fact": fact, "expect": expect, **extra}


CASES = [
    # eq / ne
    pytest.param(check("security.firewall.enabled", {"eq": True}), FW_ON, "pass", "all_checks_hold",
                 id="eq holds"),
    pytest.param(check("security.firewall.enabled", {"eq": True}), FW_OFF, "fail", "check_failed",
                 id="eq fails"),
    pytest.param(check("security.firewall.enabled", {"ne": False}), FW_ON, "pass",
                 "all_checks_hold", id="ne holds"),
    pytest.param(check("security.firewall.enabled", {"eq": True}),
                 {"security": {"firewall": {"enabled": "yes"}}}, "error", "type_mismatch",
                 id="eq on a text where a bool is due is an error"),
    pytest.param(check("security.firewall.enabled", {"eq": True}), {"security": {}}, "error",
                 "fact_missing", id="missing fact is an error"),
    pytest.param(check("security.firewall.enabled", {"eq": True}), FW_UNKNOWN, "error",
                 "fact_unknown", id="fact the report could not determine is an error"),
    pytest.param(check("security.firewall.enabled", {"eq": True}), {}, "error", "fact_missing",
                 id="missing section is an error"),
    pytest.param(check("security.firewall.enabled", {"eq": True}),
                 {"errors": [{"collector": "security", "error": "OSError", "message": "boom"}]},
                 "error", "fact_unknown", id="failed collector is an unknown fact"),
    pytest.param(check("security.firewall.enabled", {"eq": True}, if_missing="fail"),
                 FW_UNKNOWN, "fail", "check_failed", id="if_missing fail turns unknown into fail"),
    # in
    pytest.param(check("security.firewall.product", {"in": ["ufw", "firewalld"]}), FW_ON, "pass",
                 "all_checks_hold", id="in holds"),
    pytest.param(check("security.firewall.product", {"in": ["firewalld"]}), FW_ON, "fail",
                 "check_failed", id="in fails"),
    # lt / gt on numbers
    pytest.param(check("security.password_policy.min_length", {"gt": 7}), PASSWORD, "fail",
                 "check_failed", id="gt fails"),
    pytest.param(check("security.password_policy.max_age_days", {"lt": 91}), PASSWORD, "pass",
                 "all_checks_hold", id="lt holds"),
    pytest.param(check("security.password_policy.min_length", {"gt": 5, "lt": 7}), PASSWORD,
                 "pass", "all_checks_hold", id="two operators both hold"),
    pytest.param(check("security.password_policy.min_length", {"gt": 5, "lt": 6}), PASSWORD,
                 "fail", "check_failed", id="two operators, one fails"),
    pytest.param(check("security.password_policy.min_length", {"gt": 5}),
                 {"security": {"password_policy": {"min_length": True}}}, "error",
                 "type_mismatch", id="a bool is not a number"),
    # lt / gt on date-times
    pytest.param(check("security.updates.last_installed_at", {"gt": {"days_ago": 30}}), UPDATES,
                 "pass", "all_checks_hold", id="date within 30 days"),
    pytest.param(check("security.updates.last_installed_at", {"gt": {"days_ago": 30}}),
                 OLD_UPDATES, "fail", "check_failed", id="date older than 30 days"),
    pytest.param(check("security.updates.last_installed_at", {"lt": {"days_ago": 30}}),
                 OLD_UPDATES, "pass", "all_checks_hold", id="lt days_ago means older than"),
    pytest.param(check("security.updates.last_installed_at", {"gt": {"days_ago": 30}}),
                 {"security": {"updates": {"last_installed_at": "last week"}}}, "error",
                 "bad_datetime", id="unparsable date is an error"),
    # regex
    pytest.param(check("security.firewall.product", {"regex": "^(ufw|nft)"}), FW_ON, "pass",
                 "all_checks_hold", id="regex matches"),
    pytest.param(check("security.firewall.product", {"regex": "firewalld"}), FW_ON, "fail",
                 "check_failed", id="regex does not match"),
    # exists
    pytest.param(check("security.firewall.product", {"exists": True}), FW_ON, "pass",
                 "all_checks_hold", id="exists true on present fact"),
    pytest.param(check("security.firewall.product", {"exists": False}), FW_OFF, "pass",
                 "all_checks_hold", id="exists false on absent fact"),
    pytest.param(check("security.firewall.product", {"exists": True}), FW_OFF, "fail",
                 "check_failed", id="exists true on absent fact"),
    pytest.param(check("security.firewall.product", {"exists": False}), FW_UNKNOWN, "error",
                 "fact_unknown", id="exists on an unknown fact is an error"),
    # count and where
    pytest.param(check("security.listening_ports", {"count": 3}), PORTS, "pass",
                 "all_checks_hold", id="count equal"),
    pytest.param(check("security.listening_ports", {"count": {"gt": 3}}), PORTS, "fail",
                 "check_failed", id="count nested comparison"),
    pytest.param(check("security.listening_ports", {"count": 0}, where={"port": 3389}), PORTS,
                 "fail", "check_failed", id="where literal filters items"),
    pytest.param(check("security.listening_ports", {"count": 1},
                       where={"port": {"in": [3389, 5900]}, "address": {"ne": "127.0.0.1"}}),
                 PORTS, "pass", "all_checks_hold", id="where with operators on two fields"),
    pytest.param(check("security.listening_ports", {"count": 2},
                       where={"process": {"exists": False}}), PORTS, "pass", "all_checks_hold",
                 id="where exists false"),
    pytest.param(check("security.accounts.users", {"count": 1}, where={"admin": False}), ACCOUNTS,
                 "pass", "all_checks_hold", id="where sees omitted schema defaults"),
    pytest.param(check("security.accounts.admins", {"count": 1}, where={"ne": "root"}), ACCOUNTS,
                 "pass", "all_checks_hold", id="where on a list of texts"),
    pytest.param(check("security.antimalware", {"count": {"gt": 0}}), {"security": {}}, "error",
                 "fact_missing", id="count on a missing list is an error"),
    pytest.param(check("security.remote_tools", {"count": 0}),
                 {"security": {"remote_tools": "none"}}, "error", "type_mismatch",
                 id="count on a text is an error"),
    pytest.param(check("security.accounts.users", {"count": 0}),
                 {"security": {"accounts": {}}}, "pass", "all_checks_hold",
                 id="omitted empty list is its default"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "facts", "outcome", "code"), CASES)
def test_operator(
    load: Loader, spec: dict[str, Any], facts: dict[str, Any], outcome: str, code: str
) -> None:
    result = run_rule(load(pack(rule([spec]))), facts)
    assert (result.outcome, result.reason.code) == (outcome, code)
    if outcome in ("fail", "error"):
        assert result.evidence, "a fail or an error carries its evidence"
        assert result.evidence[0].fact == spec["fact"]


def test_evidence_names_the_failed_fact_and_values(load: Loader) -> None:
    spec = check("security.listening_ports", {"count": 0}, where={"port": 3389})
    result = run_rule(load(pack(rule([spec]))), PORTS)
    (evidence,) = result.evidence
    assert evidence.expected == {"count": 0}
    assert [item["port"] for item in evidence.actual] == [3389]
    assert result.reason.values["fact"] == "security.listening_ports"


A_TRUE = check("security.firewall.enabled", {"eq": True})
A_FALSE = check("security.firewall.enabled", {"eq": False})
AN_ERROR = check("security.firewall.product", {"eq": "ufw"})  # absent in FW_ON_NO_PRODUCT
FW_ON_NO_PRODUCT = {"security": {"firewall": {"enabled": True}}}


@pytest.mark.parametrize(
    ("match", "checks", "outcome"),
    [
        pytest.param("all", [A_TRUE, A_TRUE], "pass", id="all: every check holds"),
        pytest.param("all", [A_TRUE, A_FALSE], "fail", id="all: one fails"),
        pytest.param("all", [A_FALSE, AN_ERROR], "fail", id="all: a fail outweighs an error"),
        pytest.param("all", [A_TRUE, AN_ERROR], "error", id="all: undecided is an error"),
        pytest.param("any", [A_FALSE, A_TRUE], "pass", id="any: one holds"),
        pytest.param("any", [A_FALSE, A_FALSE], "fail", id="any: none holds"),
        pytest.param("any", [AN_ERROR, A_TRUE], "pass", id="any: a pass outweighs an error"),
        pytest.param("any", [A_FALSE, AN_ERROR], "error", id="any: undecided is an error"),
        pytest.param("none", [A_FALSE, A_FALSE], "pass", id="none: nothing forbidden holds"),
        pytest.param("none", [A_FALSE, A_TRUE], "fail", id="none: a forbidden check holds"),
        pytest.param("none", [A_FALSE, AN_ERROR], "error", id="none: undecided is an error"),
        pytest.param("none", [A_TRUE], "fail", id="none: single check holds"),
        pytest.param("any", [A_FALSE], "fail", id="any: single check fails"),
    ],
)
def test_match(load: Loader, match: str, checks: list[dict[str, Any]], outcome: str) -> None:
    result = run_rule(load(pack(rule(checks, match=match))), FW_ON_NO_PRODUCT)
    assert result.outcome == outcome


def test_if_missing_fail_under_none_is_a_violation(load: Loader) -> None:
    spec = check("security.firewall.product", {"eq": "ufw"}, if_missing="fail")
    result = run_rule(load(pack(rule([spec], match="none"))), FW_ON_NO_PRODUCT)
    assert (result.outcome, result.reason.code) == ("fail", "forbidden_match")


def ctx(**fields: Any) -> HostContext:
    base: dict[str, Any] = {"os": "linux", "classification": "normal", "now": NOW}
    base.update(fields)
    return HostContext(**base)


@pytest.mark.parametrize(
    ("pack_applies", "rule_applies", "context", "outcome", "code"),
    [
        pytest.param(None, {"os": ["windows"]}, ctx(), "not_applicable", "os_not_applicable",
                     id="other OS"),
        pytest.param(None, {"os": "linux"}, ctx(), "pass", "all_checks_hold",
                     id="a single value is a one-item list"),
        pytest.param(None, {"os": ["linux"]}, ctx(os=None), "error", "os_unknown",
                     id="unknown OS is an error"),
        pytest.param({"classification": ["classified"]}, None, ctx(), "not_applicable",
                     "classification_not_applicable", id="pack for classified PCs"),
        pytest.param({"classification": ["classified"]}, {"os": ["linux"]},
                     ctx(classification="classified"), "pass", "all_checks_hold",
                     id="pack and rule both apply"),
        pytest.param(None, {"units": ["xa-a"]}, ctx(units=("tinh", "huyen", "xa-a", "vp")),
                     "pass", "all_checks_hold", id="descendant of the unit"),
        pytest.param(None, {"units": ["xa-b"]}, ctx(units=("tinh", "huyen", "xa-a")),
                     "not_applicable", "unit_not_applicable", id="another unit"),
        pytest.param(None, {"tags": ["kiosk", "server"]}, ctx(tags=frozenset({"server"})),
                     "pass", "all_checks_hold", id="one of the tags"),
        pytest.param(None, {"tags": ["kiosk"]}, ctx(), "not_applicable", "tag_not_applicable",
                     id="untagged host"),
    ],
)  # fmt: skip
def test_applicability(
    load: Loader,
    pack_applies: dict[str, Any] | None,
    rule_applies: dict[str, Any] | None,
    context: HostContext,
    outcome: str,
    code: str,
) -> None:
    fields = {"applies_to": rule_applies} if rule_applies else {}
    header = {"applies_to": pack_applies} if pack_applies else {}
    policies = load(pack(rule([A_TRUE], **fields), **header))
    result = run_rule(policies, FW_ON, context)
    assert (result.outcome, result.reason.code) == (outcome, code)


def test_host_context_reads_the_os_family_from_the_report() -> None:
    facts = {"os": {"version": {"family": "windows", "name": "Windows 11"}}}
    assert HostContext.from_facts(facts).os == "windows"
    assert HostContext.from_facts({}).os is None
