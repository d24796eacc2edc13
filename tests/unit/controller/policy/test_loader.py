"""Loading packs: every problem is one line naming the file, the line, the rule and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.policy import (
    DEFAULT_REFERENCES,
    PolicyError,
    load_installed,
    load_policies,
    overrides_path,
)
from tests.unit.controller.policy.conftest import EXAMPLE, REFERENCES, Loader, pack, rule

HEADER = """\
policy: {id: test, version: 1, title: {vi: "Gói thử", en: "Test pack"}}
rules:
  - id: ATTT-01
    title: {vi: "Tường lửa bật", en: "Firewall on"}
    rationale: {vi: "Lý do", en: "Why"}
    severity: high
    references: [test-law-1]
    checks:
"""  # the first check is on line 9


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        pytest.param("{fact: security.firewall.enabled, expect: {equals: true}}",
                     ":9: rule ATTT-01: checks[0].expect: unknown operator 'equals'",
                     id="unknown operator"),
        pytest.param("{fact: security.firewal.enabled, expect: {eq: true}}",
                     ":9: rule ATTT-01: checks[0].fact: security has no field 'firewal'",
                     id="misspelt fact"),
        pytest.param("{fact: security.firewall.enabled, expect: {eq: maybe}}",
                     ":9: rule ATTT-01: checks[0].expect.eq: 'maybe' is not a bool value",
                     id="operand of the wrong type"),
        pytest.param("{fact: security.usb_storage.policy, expect: {eq: off}}",
                     "checks[0].expect.eq: False is not a str (one of: allow_list, allowed, "
                     "blocked) value", id="YAML off is a bool, not a choice"),
        pytest.param("{fact: security.usb_storage.policy, expect: {in: [allowed, open]}}",
                     "'open' is not a str (one of:", id="value outside an enumeration"),
        pytest.param("{fact: security.firewall.product, expect: {lt: 3}}",
                     "checks[0].expect.lt: lt needs a number fact", id="lt on a text"),
        pytest.param("{fact: security.firewall.product, expect: {regex: '(unclosed'}}",
                     "checks[0].expect.regex: invalid regular expression", id="bad regex"),
        pytest.param("{fact: security.firewall.enabled, expect: {count: 0}}",
                     "checks[0].expect.count: count needs a list fact", id="count on a bool"),
        pytest.param("{fact: security.listening_ports, expect: {count: -1}}",
                     "count takes an integer ≥ 0", id="negative count"),
        pytest.param("{fact: security.listening_ports, expect: {count: {regex: x}}}",
                     "count takes an integer or one of eq, ne, in, not_in, lt, le, gt, ge",
                     id="regex in count"),
        pytest.param("{fact: security.listening_ports, expect: {eq: 3}}",
                     "eq cannot compare a list of struct (use count or exists)",
                     id="eq on a list"),
        pytest.param("{fact: security.listening_ports.port, expect: {eq: 3}}",
                     "security.listening_ports is a list", id="path through a list"),
        pytest.param("{fact: security.firewall.enabled, where: {up: true}, expect: {eq: true}}",
                     "checks[0].where: where filters a list", id="where on a bool"),
        pytest.param("{fact: network.interfaces, where: {upp: true}, expect: {count: 0}}",
                     "checks[0].where.upp: list item: the report has no field 'upp'",
                     id="where on an unknown item field"),
        pytest.param("{fact: security.firewall.enabled, expect: {eq: {param: nope}}}",
                     "unknown parameter 'nope' (declared params: none)", id="undeclared param"),
        pytest.param("{fact: security.firewall.enabled, expect: {exists: true, eq: true}}",
                     "exists takes true or false, alone", id="exists combined"),
        pytest.param("{fact: security.updates.last_installed_at, expect: {gt: 30}}",
                     "gt on a date-time fact takes {days_ago: N}", id="date without days_ago"),
        pytest.param("{fact: security.firewall.enabled, expect: {eq: true}, if_missing: pass}",
                     "checks[0].if_missing: expected error or fail", id="if_missing pass"),
        pytest.param("{fact: security.firewall.enabled, expekt: {eq: true}}",
                     "checks[0].expekt: unknown key", id="misspelt key"),
    ],
)  # fmt: skip
def test_check_errors_name_file_line_rule_and_field(
    load: Loader, tmp_path: Path, check: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load(HEADER + f"      - {check}\n")
    assert len(caught.value.errors) == 1
    (line,) = caught.value.errors
    assert line.startswith(f"{tmp_path / 'pack.yaml'}:")
    assert expected in line


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param({"title": {"vi": "Chỉ tiếng Việt"}}, "rule T-01: title.en: missing",
                     id="English title missing"),
        pytest.param({"rationale": {"vi": "", "en": "x"}}, "rule T-01: rationale.vi: missing",
                     id="empty Vietnamese rationale"),
        pytest.param({"severity": "urgent"}, "rule T-01: severity: 'urgent' is not one of",
                     id="unknown severity"),
        pytest.param({"references": ["law-99"]}, "references[0]: unknown reference 'law-99'",
                     id="unknown reference"),
        pytest.param({"match": "some"}, "rule T-01: match: 'some' is not all, any or none",
                     id="unknown match"),
        pytest.param({"checks": []}, "rule T-01: checks: expected a non-empty list",
                     id="no checks"),
        pytest.param({"id": "attt 1"}, "id: 'attt 1' is not a valid rule id", id="bad id"),
        pytest.param({"applies_to": {"os": ["macos"]}}, "applies_to.os: 'macos' is not one of",
                     id="unknown OS"),
        pytest.param({"applies_to": {"classification": ["secret"]}},
                     "applies_to.classification: 'secret' is not one of", id="bad class"),
        pytest.param({"remediation": {"playbook": "../x.yml"}}, "remediation.playbook",
                     id="playbook with a path"),
        pytest.param({"params": {"max": {"a": 1}}}, "params.max: the default must be",
                     id="param of no type"),
        pytest.param({"severity_level": 1}, "rule T-01: severity_level: unknown key",
                     id="unknown rule key"),
    ],
)  # fmt: skip
def test_rule_errors(load: Loader, change: dict[str, Any], expected: str) -> None:
    spec = {"fact": "security.firewall.enabled", "expect": {"eq": True}}
    doc = rule([spec])
    doc.update(change)
    with pytest.raises(PolicyError) as caught:
        load(pack(doc))
    assert any(expected in line for line in caught.value.errors), caught.value.errors


def test_every_error_is_reported_not_only_the_first(load: Loader) -> None:
    good = {"fact": "security.firewall.enabled", "expect": {"eq": True}}
    bad = {"fact": "security.firewall.enabled", "expect": {"equals": True}}
    doc = pack(
        rule([bad, bad], id="T-01"),
        rule([good], id="T-02", severity="urgent"),
        rule([good], id="T-03"),
    )
    with pytest.raises(PolicyError) as caught:
        load(doc)
    assert len(caught.value.errors) == 3
    assert [line.split(": ")[1] for line in caught.value.errors] == [
        "rule T-01",
        "rule T-01",
        "rule T-02",
    ]


def test_duplicate_rule_ids_across_packs_are_refused(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    second.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("id: example", "id: example-two"),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        load_policies([tmp_path], references=[REFERENCES])
    assert len(caught.value.errors) == 10
    assert caught.value.errors[0].startswith(f"{second}:")
    assert f"rule EX-01: duplicate rule id (first defined at {first}:" in caught.value.errors[0]


def test_duplicate_pack_ids_are_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml"):
        text = EXAMPLE.read_text(encoding="utf-8")
        if name == "b.yml":
            text = text.replace("id: EX-", "id: EXB-")
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="duplicate pack id 'example'"):
        load_policies([tmp_path], references=[REFERENCES])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("policy: [\n", ":2: invalid YAML", id="broken YAML"),
        pytest.param("policy: {id: a}\npolicy: {id: b}\n", ":2: invalid YAML", id="duplicate key"),
        pytest.param("- a\n- b\n", ":1: expected a mapping", id="not a mapping"),
        pytest.param("policy: !!python/object:os.system {}\n", "invalid YAML",
                     id="python tags refused like safe_load"),
        pytest.param("policy: {id: Test, version: 1, title: {vi: a, en: b}}\nrules: []\n",
                     "policy.id: 'Test' is not a valid pack id", id="bad pack id"),
        pytest.param("policy: {id: t, version: 0, title: {vi: a, en: b}}\nrules: []\n",
                     "policy.version: expected an integer", id="bad version"),
        pytest.param("policy: {id: t, version: 1, title: {vi: a, en: b}}\nrules: []\n",
                     ":2: rules: expected a non-empty list", id="no rules"),
        pytest.param("policy: {id: t, version: 1, title: {vi: a, en: b}}\nextra: 1\nrules: []\n",
                     ":2: extra: unknown key", id="unknown top-level key"),
    ],
)  # fmt: skip
def test_file_errors(load: Loader, text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load(text)
    assert any(expected in line for line in caught.value.errors), caught.value.errors


def test_missing_pack_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policies([tmp_path / "none.yaml"], references=[REFERENCES])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("references:\n  - {id: a, title: {vi: x, en: y}}\n", "source: missing",
                     id="no source"),
        pytest.param("references:\n  - {id: a, title: {vi: x}, source: s}\n", "title.en",
                     id="no English title"),
        pytest.param("references:\n  - {id: a, title: {vi: x, en: y}, source: s}\n"
                     "  - {id: a, title: {vi: x, en: y}, source: s}\n",
                     ":3: references[1].id: duplicate reference 'a'", id="duplicate id"),
        pytest.param("references:\n  - {id: a, title: {vi: x, en: y}, source: s, url: http://x}\n",
                     "url: must be an https:// URL", id="plain http"),
    ],
)  # fmt: skip
def test_reference_errors(tmp_path: Path, text: str, expected: str) -> None:
    refs = tmp_path / "refs.yaml"
    refs.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policies([EXAMPLE], references=[refs])
    assert any(expected in line for line in caught.value.errors), caught.value.errors


def test_example_pack_loads() -> None:
    policies = load_policies([EXAMPLE], references=[REFERENCES])
    assert [p.id for p in policies.packs] == ["example"]
    assert len(policies.rules) == 10
    ex02 = next(r for r in policies.rules if r.id == "EX-02")
    assert ex02.references == ("test-law-1", "test-decree-2")
    assert ex02.remediation is not None and ex02.remediation.playbook == "block_usb_storage.yml"
    assert ex02.title.get("en") == "USB storage is blocked"
    assert ex02.source == f"{EXAMPLE}:17"


def test_line_loader_reads_what_safe_load_reads() -> None:
    from controller.policy.yamlsrc import load_yaml

    assert load_yaml(EXAMPLE) == yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def test_shipped_references_validate() -> None:
    policies = load_policies([], references=[DEFAULT_REFERENCES])
    assert "law-29-2018-art-5" in policies.references
    for reference in policies.references.values():
        assert reference.title.vi and reference.title.en and reference.source


def test_load_installed_applies_the_data_dir_overrides(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    overrides_path(tmp_path).write_text("disable: [NOPE-1]\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="unknown rule 'NOPE-1'"):
        load_installed(tmp_path)


def test_the_example_in_the_documentation_is_valid(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[4] / "docs" / "policies.md"
    text = docs.read_text(encoding="utf-8")
    example = text.split("## A complete example\n\n```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "doc.yaml"
    path.write_text(example, encoding="utf-8")
    policies = load_policies([path])
    assert [r.id for r in policies.rules] == ["ATTT-05", "ATTT-12"]


def test_an_impossible_date_is_a_yaml_error_with_its_line(tmp_path: Path) -> None:
    from controller.policy.yamlsrc import YamlError, load_yaml

    path = tmp_path / "pack.yaml"
    path.write_text("policy:\n  id: x\n  when: 2024-02-30\n", encoding="utf-8")
    with pytest.raises(YamlError, match=r"pack\.yaml:3: invalid YAML: .*2024-02-30"):
        load_yaml(path)
