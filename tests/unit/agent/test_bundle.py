"""Offline enrollment by carried files and signed report bundles, on the agent's side."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent import keys
from agent.bundle import (
    MANIFEST,
    SIGNATURE,
    SIGNING_PREFIX,
    BundleError,
    Manifest,
    export_bundle,
    load_bundle_state,
    offline_config,
)
from agent.cli import main
from agent.config import AgentConfig, HttpsTarget, ProbeConfig, TcpTarget
from agent.envelope import b64url_decode, body_digest, from_header
from agent.offline import (
    RESPONSE_FORMAT,
    OfflineError,
    OfflineResponse,
    accept_response,
    fingerprint,
    stage_request,
)
from agent.report import Report
from agent.report.identity import Identity
from agent.state import load_state

AGENT = "0123456789abcdef"
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
IDENTITY = Identity(hostname="PC-MAT-01", machine_id="mid-classified", macs=["00:1a:2b:3c:4d:5e"])


def respond(path: Path, key_id: str, agent_id: str = AGENT) -> Path:
    """The response file an officer would carry back for ``key_id``."""
    response = OfflineResponse(
        format=RESPONSE_FORMAT,
        agent_id=agent_id,
        key_id=key_id,
        ca_fingerprint="ab" * 32,
        unit="xa-an-binh",
        created_at="2026-11-29T03:00:00Z",
    )
    path.write_bytes(msgspec.json.encode(response))
    return path


def enrolled(tmp_path: Path) -> Path:
    """A state directory enrolled offline as agent AGENT."""
    tmp_path.mkdir(exist_ok=True)
    state_dir = tmp_path / "state"
    staged = stage_request(state_dir, tmp_path / "req.json", identity=IDENTITY)
    accept_response(state_dir, respond(tmp_path / "resp.json", staged.request.key_id))
    return state_dir


def small_report() -> Report:
    return Report(
        schema_version=1,
        kind="full",
        agent_version="test",
        collected_at=NOW,
        identity=IDENTITY,
    )


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, mode="r:") as tar:
        out = {}
        for member in tar:
            assert member.isreg()
            handle = tar.extractfile(member)
            assert handle is not None
            out[member.name] = handle.read()
    return out


def test_request_carries_key_and_identity_and_a_readable_fingerprint(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    staged = stage_request(state_dir, tmp_path / "req.json", identity=IDENTITY)
    data = json.loads((tmp_path / "req.json").read_text(encoding="utf-8"))
    public = keys.public_raw(keys.load_private(state_dir / "agent.key.new"))
    assert data["format"] == "govguard-offline-request-v1"
    assert data["key_id"] == keys.key_id(public) == staged.request.key_id
    assert data["hostname"] == "PC-MAT-01" and data["machine_id"] == "mid-classified"
    assert data["macs"] == ["00:1a:2b:3c:4d:5e"] and data["created_at"].endswith("Z")
    groups = staged.fingerprint.split(" ")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    assert "".join(groups) == hashlib.sha256(public).hexdigest()[:32]
    assert (state_dir / "agent.key.new").stat().st_mode & 0o777 == 0o600
    assert not (state_dir / "identity.json").exists()  # not enrolled until the response
    # A lost request file is written again with the same key.
    again = stage_request(state_dir, tmp_path / "req2.json", identity=IDENTITY)
    assert again.reused and again.request.key_id == staged.request.key_id


def test_accepting_the_response_enrolls_offline(tmp_path: Path) -> None:
    state_dir = enrolled(tmp_path)
    state = load_state(state_dir)
    assert state is not None and state.offline and state.agent_id == AGENT
    assert state.controller_url == "" and state.ca_fingerprint == "ab" * 32
    assert (state_dir / "agent.key").exists() and not (state_dir / "agent.key.new").exists()


def test_a_response_for_another_key_is_refused(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    stage_request(state_dir, tmp_path / "req.json", identity=IDENTITY)
    with pytest.raises(OfflineError, match="this computer's staged key is"):
        accept_response(state_dir, respond(tmp_path / "resp.json", "ffffffffffffffff"))
    assert load_state(state_dir) is None


def test_a_response_without_a_staged_key_or_malformed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OfflineError, match="no key is waiting"):
        accept_response(tmp_path / "state", respond(tmp_path / "resp.json", "ffffffffffffffff"))
    (tmp_path / "bad.json").write_text('{"format": 1}', encoding="utf-8")
    with pytest.raises(OfflineError, match="not a valid offline response"):
        accept_response(tmp_path / "state", tmp_path / "bad.json")


def test_offline_config_turns_every_probe_off() -> None:
    config = AgentConfig(
        probes=ProbeConfig(
            https=[HttpsTarget(name="gov", url="https://dichvucong.gov.vn", role="internet")],
            tcp=[TcpTarget(name="lan", host="10.0.0.1", port=445)],
        )
    )
    probes = offline_config(config).probes
    assert probes.gateway is False and probes.https == [] and probes.tcp == []
    assert probes.dns.names == [] and config.probes.https  # the given config is unchanged


def test_export_writes_one_signed_bundle(tmp_path: Path) -> None:
    state_dir = enrolled(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    done = export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW)
    assert done.path == usb / f"govguard-{AGENT}-1.ggb" and done.seq == 1 and done.chained
    raw = done.path.read_bytes()
    assert done.digest == hashlib.sha256(raw).hexdigest() and done.size == len(raw)
    files = members(done.path)
    assert list(files) == [MANIFEST, SIGNATURE, "reports/1.env", "reports/1.json.gz"]
    # The signature names the key and covers the manifest's exact bytes.
    form, key_id, signature, end = files[SIGNATURE].decode("ascii").split("\n")
    state = load_state(state_dir)
    assert state is not None
    assert (form, key_id, end) == ("govguard-bundle-v1", state.key_id, "")
    public = keys.public_raw(keys.load_private(state_dir / "agent.key"))
    Ed25519PublicKey.from_public_bytes(public).verify(
        b64url_decode(signature), SIGNING_PREFIX + files[MANIFEST]
    )
    manifest = msgspec.json.decode(files[MANIFEST], type=Manifest)
    assert (manifest.agent_id, manifest.seq, manifest.prev_digest) == (AGENT, 1, "")
    for entry in manifest.files:
        assert hashlib.sha256(files[entry.name]).hexdigest() == entry.sha256
    # The report is signed exactly as online: envelope over the gzip body's digest.
    env = from_header(files["reports/1.env"].decode("ascii").strip())
    assert env.seq == 1 and env.kind == "full" and env.agent_id == AGENT
    assert env.digest == body_digest(files["reports/1.json.gz"]) and keys.verify(public, env)
    # The next bundle chains to this one.
    second = export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW)
    nxt = msgspec.json.decode(members(second.path)[MANIFEST], type=Manifest)
    assert nxt.seq == 2 and nxt.prev_digest == done.digest


def test_the_number_is_saved_before_the_bundle_is_written(tmp_path: Path) -> None:
    state_dir = enrolled(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    # Something in the way of the bundle file: the export fails after the number was taken.
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / f"govguard-{AGENT}-1.ggb").mkdir()
    with pytest.raises(BundleError, match="number 1 is skipped"):
        export_bundle(state_dir, blocked, AgentConfig(), report=small_report(), now=NOW)
    assert load_bundle_state(state_dir).last_seq == 1
    done = export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW)
    assert done.seq == 2 and not done.chained  # the controller will see the gap
    assert not list(usb.glob(".*.tmp")) and not list(blocked.glob(".*.tmp"))


def test_an_existing_bundle_file_is_never_overwritten(tmp_path: Path) -> None:
    state_dir = enrolled(tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir()
    first = export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW)
    kept = first.path.read_bytes()
    (state_dir / "bundles.json").unlink()  # a restored state directory starts at 1 again
    with pytest.raises(BundleError, match=r"already exists .* number 1 is skipped"):
        export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW)
    assert first.path.read_bytes() == kept
    assert export_bundle(state_dir, usb, AgentConfig(), report=small_report(), now=NOW).seq == 2


def test_export_refuses_online_agents_and_missing_directories(tmp_path: Path) -> None:
    from agent.state import AgentState, save_state

    state_dir = tmp_path / "state"
    save_state(
        state_dir,
        AgentState(controller_url="https://c", server_hostname="c", agent_id=AGENT,
                   key_id="fedcba9876543210", status="active", enrolled_at="2026-11-29T00:00:00Z"),
    )  # fmt: skip
    with pytest.raises(BundleError, match="enrolled online"):
        export_bundle(state_dir, tmp_path, AgentConfig(), report=small_report())
    state_dir = enrolled(tmp_path / "other")
    with pytest.raises(BundleError, match="no such directory"):
        export_bundle(state_dir, tmp_path / "nope", AgentConfig(), report=small_report())


def test_cli_offline_enroll_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real commands, with the real collectors (no network probe) and Vietnamese output."""
    state = str(tmp_path / "state")
    assert (
        main(["enroll", "--offline", "--out", str(tmp_path / "req.json"), "--state-dir", state])
        == 0
    )
    out = capsys.readouterr().out
    key_id = json.loads((tmp_path / "req.json").read_text(encoding="utf-8"))["key_id"]
    public = keys.public_raw(keys.load_private(tmp_path / "state" / "agent.key.new"))
    assert fingerprint(public) in out and "dấu vân tay" in out
    respond(tmp_path / "resp.json", key_id)
    argv = ["enroll", "--offline", "--accept", str(tmp_path / "resp.json"), "--state-dir", state]
    assert main([*argv, "--lang", "en"]) == 0
    assert f"enrolled offline: this computer is agent {AGENT}" in capsys.readouterr().out
    usb = tmp_path / "usb"
    usb.mkdir()
    assert main(["export", "--to", str(usb), "--state-dir", state]) == 0
    out = capsys.readouterr().out
    assert "Gói dữ liệu mang ra khỏi phòng gồm:" in out and "identity" in out
    (bundle,) = usb.glob("*.ggb")
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() in out
    assert main(["status", "--state-dir", state, "--lang", "en"]) == 0
    status = capsys.readouterr().out
    assert "none: offline, reports by USB bundles" in status and "number 1, SHA-256" in status
    # An offline agent never runs the delivery service.
    assert main(["run", "--once-cycle", "--state-dir", state]) == 1
    assert "enrolled offline" in capsys.readouterr().err


def test_cli_enroll_option_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enroll", "--offline", "--state-dir", str(tmp_path)]) == 1
    assert "either --out REQUEST or --accept RESPONSE" in capsys.readouterr().err
    assert main(["enroll", "--out", "x", "--state-dir", str(tmp_path)]) == 1
    assert "belong to --offline" in capsys.readouterr().err
    assert main(["enroll", "--state-dir", str(tmp_path)]) == 1
    assert "needs --controller URL and --token-file" in capsys.readouterr().err


def test_pack_is_plain_ustar() -> None:
    from agent.bundle import pack

    data = pack([("a", b"x")], NOW)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        (member,) = tar.getmembers()
    assert member.isreg() and member.uid == 0 and member.mtime == int(NOW.timestamp())
