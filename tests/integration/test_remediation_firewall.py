"""The issue's "done when": a failing host firewall fixed from the command line, end to end.

A Linux test host (:class:`tests.support.testhost.TestHost`: a network namespace whose nftables
ruleset is empty, a private mount namespace with overlays over ``/etc``, ``/usr``, ``/var``...,
and a real sshd inside) runs the real agent *inside* its namespaces as root, enrolled online
against a controller that listens on the root end of the host's veth. Its report says the
firewall is off, so ATTT-07 fails and a finding opens. The organisation file names the host's
address (``connection:``), Ansible logs in as root (``remediation.remote_user: root``, become
off) with the key and pinned host key in the data directory. Then, from the command line only:

``govguard remediate <finding>`` → a real ``govguard worker`` runs the check-mode preview (the
job shows a diff, the host's ruleset is still empty, nothing was written) → ``govguard jobs
approve`` → the apply run loads a ruleset (``govguard serve`` is SIGKILLed meanwhile: the run
lives in the worker and goes on; the serve is started again for the next report) → the agent
reports again from inside the host → ``govguard jobs show`` says fixed and ``govguard findings
list`` shows the finding resolved. (A *worker* killed mid-run is
tests/integration/test_remediation_worker.py's.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.enrollment import collect_identity
from tests.support.controller_proc import free_port
from tests.support.remediation_e2e import (
    AGENT,
    Worker,
    audit_actions,
    changes,
    commune_district,
    findings,
    install_ssh_identity,
    job_view,
    remediation_controller,
    report_now_asked,
    request_job,
    wait_job,
    wait_run_running,
)
from tests.support.testhost import TestHost, why_not_available

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(why_not_available() is not None, reason=str(why_not_available())),
]

UNIT = "xa-phu-thinh"
ASSET = "xa-phu-thinh-pc-07"


def organisation(machine_id: str, address: str) -> dict[str, object]:
    """One commune and its one computer, reachable by Ansible at ``address`` as root."""
    return commune_district(UNIT, "UBND xã Phú Thịnh", [(ASSET, machine_id, address, {})])


@pytest.fixture
def host(tmp_path: Path) -> Iterator[TestHost]:
    with TestHost(tmp_path / "host") as made:
        yield made


def _agent(host: TestHost, *args: str) -> str:
    """``govguard-agent ARGS`` inside the test host's namespaces, as root; its output."""
    done = host.run([AGENT, *args, "--lang", "en"], timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _ruleset(host: TestHost) -> str:
    done = host.run(["nft", "list", "ruleset"])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _finding_ids(listing: str, rule: str) -> list[int]:
    """The ids of ``govguard findings list`` rows of one rule (the first column is the id)."""
    return [int(line.split()[0]) for line in listing.splitlines()[1:] if f" {rule} " in line]


# PostgreSQL: the isolation scenario runs this whole path (controller, CLI, worker, Ansible) on
# SQLite, the district's default, and the remediation store tests cover both databases; one
# backend per scenario keeps the suite's time for the scenarios themselves.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_failing_firewall_goes_preview_approve_run_verified(
    host: TestHost, db_url: str, tmp_path: Path
) -> None:
    ctl = remediation_controller(
        tmp_path / "ctl",
        db_url,
        listen=(host.gateway, free_port()),
        remediation={"remote_user": "root", "become": False, "keep_run_dirs": True},
    )
    install_ssh_identity(ctl.data_dir, host.key_file, host.known_hosts.read_text().splitlines())
    identity = collect_identity()  # the host's /etc is an overlay of this machine's
    machine_id = identity.machine_id or identity.system_uuid
    assert machine_id
    org = tmp_path / "organisation.yaml"
    org.write_text(yaml.safe_dump(organisation(machine_id, host.address), allow_unicode=True))
    ctl.cli("inventory", "import", str(org), "--lang", "en")
    token = tmp_path / "token.txt"
    ctl.cli("tokens", "create", "--unit", UNIT, "--out", str(token))
    state = tmp_path / "agent-state"
    assert _ruleset(host) == ""  # a fresh network namespace: no firewall at all

    with ctl, Worker(ctl.data_dir) as worker:
        _agent(host, "enroll", "--controller", ctl.url, "--token-file", str(token),
               "--state-dir", str(state))  # fmt: skip
        _agent(host, "run", "--once-cycle", "--state-dir", str(state))
        listing = ctl.cli("findings", "list", "--rule", "ATTT-07").stdout
        (finding_id,) = _finding_ids(listing, "ATTT-07")
        assert [f["status"] for f in findings(ctl, "ATTT-07")] == ["open"]

        # Preview: a check-mode run by the worker, with a diff, and nothing changed.
        before = changes(host)
        job_id, _ = request_job(ctl, "remediate", str(finding_id))
        preview = wait_job(ctl, job_id, {"awaiting_approval", "failed"}, worker=worker)
        assert preview.status == "awaiting_approval", str(preview)
        assert preview.playbook == "enable_firewall.yml"
        assert [(r["mode"], r["state"]) for r in preview.runs] == [("check", "succeeded")]
        assert [t["host"] for t in preview.targets] == [ASSET]
        # The preview shows what would change: the ruleset file it would write.
        assert any("policy drop" in diff for diff in preview.diffs), str(preview)
        assert _ruleset(host) == ""
        assert changes(host) == before  # check mode wrote nothing in the host
        shown = ctl.cli("jobs", "show", str(job_id)).stdout
        assert "awaiting_approval" in shown and "enable_firewall.yml" in shown
        preview_text = shown.split("preview (check mode, nothing was changed):", 1)[-1]
        assert "/etc/nftables.conf" in preview_text and "policy drop;" in preview_text, shown

        # Approve: the apply run loads a firewall that filters inbound traffic. The web process
        # is killed while it runs (SIGKILL): runs live in the worker, which goes on regardless.
        ctl.cli("jobs", "approve", str(job_id))
        wait_run_running(ctl, job_id, "apply")
        ctl.kill()
        ran = wait_job(ctl, job_id, {"verifying", "fixed", "failed", "not_fixed"}, worker=worker)
        ctl.start()
        assert ran.status == "verifying", str(ran)
        assert [(r["mode"], r["state"]) for r in ran.runs] == [
            ("check", "succeeded"),
            ("apply", "succeeded"),
        ]
        assert [t["state"] for t in ran.targets] == ["changed"]
        ruleset = json.loads(host.run(["nft", "-j", "list", "ruleset"]).stdout)["nftables"]
        assert any(item.get("chain", {}).get("hook") == "input" for item in ruleset), ruleset

        # Verify: the agent is asked to report now; it does, from inside the host (its next
        # cycle, run here at once), and the worker reads the rule's state back from it.
        (agent_id,) = [t["agent_id"] for t in ran.targets]
        assert report_now_asked(ctl, agent_id)
        _agent(host, "run", "--once-cycle", "--state-dir", str(state))
        assert not report_now_asked(ctl, agent_id)  # the reply carried it
        done = wait_job(ctl, job_id, {"fixed", "not_fixed", "failed"}, worker=worker)
        shown = ctl.cli("jobs", "show", str(job_id)).stdout
        resolved = ctl.cli("findings", "list", "--rule", "ATTT-07", "--status", "resolved").stdout

    assert done.status == "fixed", str(done)
    assert [t["verification"] for t in done.targets] == ["fixed"]
    assert "fixed" in shown
    assert _finding_ids(resolved, "ATTT-07") == [finding_id]
    assert [f["status"] for f in findings(ctl, "ATTT-07")] == ["resolved"]
    assert job_view(ctl, job_id).finding_id == finding_id
    actions = [action for action, _target in audit_actions(ctl)]
    for step in ("remediation.requested", "remediation.approved", "remediation.run.started",
                 "remediation.run.finished", "remediation.verified"):  # fmt: skip
        assert step in actions, actions
    assert actions.index("remediation.requested") < actions.index("remediation.approved")
