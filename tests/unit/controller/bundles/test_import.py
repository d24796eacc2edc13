"""Offline enrollment and bundle import through the real commands, on SQLite and PostgreSQL.

The agent side runs in-process (agent.offline, agent.bundle) against a data directory made by
`govguard init`; every refusal must print one line, exit 1, store nothing and keep a copy of
the file in the quarantine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent import keys
from agent.bundle import (
    FORMAT,
    MANIFEST,
    SIGNATURE,
    SIGNING_PREFIX,
    FileEntry,
    Manifest,
    bundle_name,
    export_bundle,
    pack,
    signature_text,
)
from agent.config import AgentConfig
from agent.envelope import Envelope, body_digest, new_report_id, to_header
from agent.offline import fingerprint, stage_request
from agent.report import Report
from agent.report.identity import Identity
from agent.report.security import Security
from agent.state import load_state
from controller import pki
from controller.cli import DEFAULT_MAX_BUNDLE_BYTES, main
from controller.settings import load_settings
from controller.store import agents as agent_store
from controller.store import db, reports
from controller.store.bundles import last_bundle_at
from controller.store.models import Agent, Asset, AuditEntry, Bundle
from controller.store.models import Report as StoredReport

UNIT = "xa-an-binh"
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
IDENTITY = Identity(hostname="PC-MAT-01", machine_id="mid-classified", macs=["00:1a:2b:3c:4d:5e"])


def gg(folder: Path, *argv: str) -> int:
    return main([*argv, "--data-dir", str(folder)])


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """A session on the data directory's database, with the unit and a classified asset."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            with session.begin():
                from controller.store import units

                units.ensure_unit(session, UNIT, "Xã An Bình", kind="commune")
                session.add(
                    Asset(
                        id="may-mat-01",
                        kind="desktop",
                        unit_id=UNIT,
                        classification="classified",
                        machine_id="mid-classified",
                    )
                )
            yield session
    finally:
        engine.dispose()


@dataclass
class Computer:
    """An offline-enrolled computer: its state directory and agent id."""

    state_dir: Path
    agent_id: str
    usb: Path

    def export(self, report: Report | None = None) -> Path:
        done = export_bundle(
            self.state_dir, self.usb, AgentConfig(), report=report or a_report(), now=NOW
        )
        return done.path

    @property
    def key(self) -> Ed25519PrivateKey:
        return keys.load_private(self.state_dir / "agent.key")


def a_report(hostname: str = "PC-MAT-01") -> Report:
    identity = msgspec.structs.replace(IDENTITY, hostname=hostname)
    return Report(
        schema_version=1,
        kind="full",
        agent_version="test",
        collected_at=NOW,
        identity=identity,
        security=Security(),
    )


def enroll(
    folder: Path, tmp: Path, name: str, capsys: pytest.CaptureFixture[str], **identity: str
) -> Computer:
    """Offline enrollment as the officers do it: request, accept with fingerprint, response."""
    from agent.offline import accept_response

    tmp.mkdir(parents=True, exist_ok=True)
    ident = msgspec.structs.replace(IDENTITY, **identity) if identity else IDENTITY
    staged = stage_request(tmp / name, tmp / f"{name}.req", identity=ident)
    out = tmp / f"{name}.resp"
    code = gg(folder, "agents", "accept-offline", str(tmp / f"{name}.req"), "--unit", UNIT,
              "--fingerprint", staged.fingerprint, "--out", str(out), "--lang", "en")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert staged.fingerprint in printed and "accepted: PC-MAT-01 is agent" in printed
    state = accept_response(tmp / name, out)
    usb = tmp / f"{name}-usb"
    usb.mkdir()
    return Computer(tmp / name, state.agent_id, usb)


@pytest.fixture
def pc(
    data_dir: Path, store: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Computer:
    return enroll(data_dir, tmp_path / "pcs", "pc", capsys)


def counts(s: Session) -> tuple[int, int]:
    s.rollback()  # a fresh snapshot
    return (
        s.scalar(select(func.count()).select_from(StoredReport)) or 0,
        s.scalar(select(func.count()).select_from(Bundle)) or 0,
    )


def quarantined(folder: Path) -> list[Path]:
    return sorted((folder / "bundles" / "quarantine").glob("*.ggb"))


def test_offline_enrollment_then_import_end_to_end(
    data_dir: Path,
    store: Session,
    pc: Computer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent = store.get(Agent, pc.agent_id)
    assert agent is not None and agent.offline and agent.status == "active"
    assert agent.unit_id == UNIT and agent.machine_id == "mid-classified"
    # Linked to its classified asset in the organisation file.
    assert store.scalar(select(Asset.agent_id).where(Asset.id == "may-mat-01")) == pc.agent_id
    state = load_state(pc.state_dir)
    assert state is not None and state.offline
    assert state.ca_fingerprint == pki.ca_fingerprint((data_dir / "tls" / "ca.crt").read_bytes())

    bundle = pc.export()
    assert gg(data_dir, "import", str(bundle), "--lang", "en") == 0
    assert f"imported bundle 1 of PC-MAT-01 (agent {pc.agent_id}): 1 report(s)" in (
        capsys.readouterr().out
    )
    store.rollback()
    facts = reports.latest_facts(store, pc.agent_id)
    assert facts is not None and facts["identity"]["hostname"] == "PC-MAT-01"  # type: ignore[index]
    row = store.get(Bundle, (pc.agent_id, 1))
    assert row is not None and row.gap == 0 and row.reports == 1 and row.prev_digest == ""
    assert row.digest == hashlib.sha256(bundle.read_bytes()).hexdigest()
    agent = store.get(Agent, pc.agent_id)
    assert agent is not None and agent.last_seq == 1
    # Stored as carried on USB, not as sent online.
    assert set(store.scalars(select(StoredReport.source))) == {"bundle"}
    assert last_bundle_at(store, [pc.agent_id, "nobody"]) == {pc.agent_id: row.imported_at}
    actions = set(store.scalars(select(AuditEntry.action)))
    assert {"agent.enrolled_offline", "bundle.imported", "report.stored"} <= actions
    # The carried report of the classified computer is not a "seen online" alarm.
    from controller.store.models import Finding

    subjects = set(store.scalars(select(Finding.subject).where(Finding.rule_id == "BMNN-04")))
    assert "asset:may-mat-01" not in subjects
    # The policies were evaluated on the carried report like on an online one.
    assert (store.scalar(select(func.count()).select_from(Finding)) or 0) > 0
    # The same bundle again: already imported, nothing new, exit 0.
    assert gg(data_dir, "import", str(bundle)) == 0
    assert "đã được nhập trước đây" in capsys.readouterr().out
    assert counts(store) == (1, 1)
    assert not quarantined(data_dir)


def test_a_gap_is_stored_and_flagged_and_filled_later(
    data_dir: Path,
    store: Session,
    pc: Computer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second, third = pc.export(), pc.export(), pc.export()
    assert gg(data_dir, "import", str(first)) == 0
    assert gg(data_dir, "import", str(third), "--lang", "en") == 0
    out = capsys.readouterr().out
    assert "WARNING: 1 bundle(s) missing before bundle 3 (from number 2)" in out
    store.rollback()
    row = store.get(Bundle, (pc.agent_id, 3))
    assert row is not None and row.gap == 1
    entry = store.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == "bundle.imported")
        .order_by(AuditEntry.id.desc())
    )
    assert entry is not None and entry.details is not None and entry.details["gap"] == 1
    # The missing one arrives late: stored, no new gap.
    assert gg(data_dir, "import", str(second)) == 0
    assert counts(store) == (3, 3)
    store.rollback()
    agent = store.get(Agent, pc.agent_id)
    assert agent is not None and agent.last_seq == 3


def test_accept_offline_refuses_a_wrong_fingerprint_and_writes_nothing(
    data_dir: Path,
    store: Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stage_request(tmp_path / "st", tmp_path / "r.req", identity=IDENTITY)
    code = gg(data_dir, "agents", "accept-offline", str(tmp_path / "r.req"), "--unit", UNIT,
              "--fingerprint", "0000 0000 0000 0000 0000 0000 0000 0000")  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert (
        "is not the request's key fingerprint; nothing written" in err
        and len(err.splitlines()) == 1
    )
    # stdin is not a terminal under pytest: without --fingerprint there is no silent yes.
    assert gg(data_dir, "agents", "accept-offline", str(tmp_path / "r.req"), "--unit", UNIT) == 1
    assert "pass --fingerprint" in capsys.readouterr().err
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Agent)) == 0
    assert not (tmp_path / "r.response.json").exists()


def test_accepting_the_same_request_twice_gives_the_same_agent(
    data_dir: Path,
    store: Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    staged = stage_request(tmp_path / "st", tmp_path / "r.req", identity=IDENTITY)
    argv = ("agents", "accept-offline", str(tmp_path / "r.req"), "--unit", UNIT,
            "--fingerprint", staged.fingerprint.replace(" ", "").upper())  # fmt: skip
    assert gg(data_dir, *argv) == 0
    first = (tmp_path / "r.response.json").read_bytes()
    assert gg(data_dir, *argv) == 0
    assert "khóa này đã được chấp nhận trước đây" in capsys.readouterr().out
    again = (tmp_path / "r.response.json").read_bytes()
    assert msgspec.json.decode(first)["agent_id"] == msgspec.json.decode(again)["agent_id"]
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Agent)) == 1


# -- refusals -----------------------------------------------------------------------------


def refused(
    data_dir: Path, store: Session, bundle: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> str:
    """Import ``bundle``: exit 1, one error line, nothing stored, a quarantined copy."""
    before = counts(store)
    assert gg(data_dir, "import", str(bundle), "--lang", "en", *extra) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith("a copy is kept for inspection: ")
    assert len(lines) == 2 and lines[1].startswith(
        f"govguard: error: refused bundle {bundle.name}: "
    )
    assert "Traceback" not in captured.err
    assert counts(store) == before
    (copy,) = quarantined(data_dir)
    assert copy.name.endswith(bundle.name)
    reason = copy.with_name(copy.name + ".reason").read_text(encoding="utf-8")
    assert lines[1].split(f"{bundle.name}: ", 1)[1] in reason
    return lines[1]


def rebuild(path: Path, change: dict[str, bytes | None], extra: list[tarfile.TarInfo] = ()) -> Path:  # type: ignore[assignment]
    """``path`` with members replaced (None: removed) and ``extra`` tar entries appended."""
    with tarfile.open(path, mode="r:") as tar:
        items = []
        for member in tar:
            handle = tar.extractfile(member)
            assert handle is not None
            items.append((member.name, handle.read()))
    out: list[tuple[str, bytes]] = []
    for name, data in items:
        if name in change:
            new = change.pop(name)
            if new is not None:
                out.append((name, new))
        else:
            out.append((name, data))
    out.extend((name, data) for name, data in change.items() if data is not None)
    raw = pack(out, NOW)
    if extra:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in out:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            for info in extra:
                tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
        raw = buffer.getvalue()
    target = path.with_name("evil-" + path.name)
    target.write_bytes(raw)
    return target


def signed(pc: Computer, seq: int, body: bytes, key: Ed25519PrivateKey | None = None) -> Path:
    """A well-formed bundle around ``body`` (gzip), signed by ``key`` (default: the agent's)."""
    key = key or pc.key
    state = load_state(pc.state_dir)
    assert state is not None
    env = Envelope(agent_id=pc.agent_id, key_id=state.key_id, seq=seq, report_id=new_report_id(),
                   time="2026-11-29T03:00:00Z", kind="full", digest=body_digest(body))  # fmt: skip
    header = (to_header(keys.sign(key, env)) + "\n").encode()
    files = [(f"reports/{seq}.env", header), (f"reports/{seq}.json.gz", body)]
    manifest = Manifest(
        format=FORMAT, agent_id=pc.agent_id, key_id=state.key_id, seq=seq, prev_digest="",
        created_at="2026-11-29T03:00:00Z",
        files=[FileEntry(name=n, size=len(d), sha256=hashlib.sha256(d).hexdigest())
               for n, d in files],
    )  # fmt: skip
    data = msgspec.json.encode(manifest)
    sig = signature_text(state.key_id, key.sign(SIGNING_PREFIX + data))
    path = pc.usb / bundle_name(pc.agent_id, seq)
    path.write_bytes(pack([(MANIFEST, data), (SIGNATURE, sig), *files], NOW))
    return path


def test_refused_tampered_member(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = pc.export()
    other = gzip.compress(b'{"kind":"full"}', mtime=0)
    line = refused(data_dir, store, rebuild(bundle, {"reports/1.json.gz": other}), capsys)
    assert "reports/1.json.gz does not match the manifest (altered)" in line


def test_refused_tampered_manifest(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = pc.export()
    with tarfile.open(bundle, mode="r:") as tar:
        handle = tar.extractfile(MANIFEST)
        assert handle is not None
        manifest = handle.read()
    line = refused(
        data_dir,
        store,
        rebuild(bundle, {MANIFEST: manifest.replace(b'"seq": 1', b'"seq": 9')}),
        capsys,
    )
    assert "the manifest's signature is not valid" in line


def test_refused_another_agents_signature(
    data_dir: Path,
    store: Session,
    pc: Computer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = enroll(data_dir, tmp_path / "others", "other", capsys, machine_id="mid-other")
    body = gzip.compress(msgspec.json.encode(a_report()), mtime=0)
    line = refused(data_dir, store, signed(pc, 1, body, key=other.key), capsys)
    assert "signature is not valid" in line


def test_refused_revoked_agent(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = pc.export()
    assert gg(data_dir, "agents", "revoke", pc.agent_id) == 0
    capsys.readouterr()
    assert "has been revoked" in refused(data_dir, store, bundle, capsys)


def test_refused_online_agent(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = pc.export()
    store.rollback()
    with store.begin():
        agent = agent_store.get_agent(store, pc.agent_id)
        assert agent is not None
        agent.offline = False
    assert "is an online agent; only offline-enrolled agents" in refused(
        data_dir, store, bundle, capsys
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dotdot", "member name '../reports/1.env' is not allowed"),
        ("absolute", "member name '/etc/cron.d/x' is not allowed"),
        ("symlink", "member 'reports/2.env' is not a regular file"),
        ("hardlink", "member 'reports/2.env' is not a regular file"),
        ("device", "member 'reports/2.env' is not a regular file"),
        ("duplicate", "member 'reports/1.env' appears twice"),
        ("unlisted", "member 'reports/7.env' is not listed in the manifest"),
    ],
)
def test_refused_hostile_members(
    data_dir: Path,
    store: Session,
    pc: Computer,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    bundle = pc.export()
    info: tarfile.TarInfo
    change: dict[str, bytes | None] = {}
    extra: list[tarfile.TarInfo] = []
    if kind == "dotdot":
        info = tarfile.TarInfo("../reports/1.env")
    elif kind == "absolute":
        info = tarfile.TarInfo("/etc/cron.d/x")
    elif kind in ("symlink", "hardlink", "device"):
        info = tarfile.TarInfo("reports/2.env")
        info.type = {
            "symlink": tarfile.SYMTYPE,
            "hardlink": tarfile.LNKTYPE,
            "device": tarfile.CHRTYPE,
        }[kind]
        info.linkname = "/etc/shadow"
    elif kind == "duplicate":
        info = tarfile.TarInfo("reports/1.env")
    else:
        info = tarfile.TarInfo("unused")
        change = {"reports/7.env": b"extra"}
    if kind != "unlisted":
        info.size = 1 if info.isreg() else 0
        extra.append(info)
    line = refused(data_dir, store, rebuild(bundle, change, extra), capsys)
    assert message in line


def test_refused_oversized_bundle(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = pc.export()
    line = refused(data_dir, store, bundle, capsys, "--max-size", "4096")
    assert f"the file is {bundle.stat().st_size} bytes, more than the 4096" in line
    assert DEFAULT_MAX_BUNDLE_BYTES == 20 * 1024 * 1024


def test_refused_gzip_bomb(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    # 17 MB of JSON whitespace compresses to ~17 KB; the limit is 16 MB uncompressed.
    bomb = gzip.compress(b"{" + b" " * (17 * 1024 * 1024) + b"}", compresslevel=9, mtime=0)
    assert len(bomb) < 100_000
    line = refused(data_dir, store, signed(pc, 1, bomb), capsys)
    assert "larger than 16777216 bytes uncompressed" in line


def test_refused_not_a_tar(
    data_dir: Path, store: Session, pc: Computer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = pc.usb / "govguard-notes.ggb"
    path.write_text("chỉ là một tệp văn bản\n" * 100, encoding="utf-8")
    assert "not a bundle" in refused(data_dir, store, path, capsys)
    path.unlink()
    for copy in (data_dir / "bundles" / "quarantine").iterdir():
        copy.unlink()
    compressed = pc.usb / "govguard-gz.ggb"
    compressed.write_bytes(gzip.compress(pc.export().read_bytes()))
    assert "not a bundle" in refused(data_dir, store, compressed, capsys)


def test_missing_file_is_an_error_without_quarantine(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gg(data_dir, "import", str(tmp_path / "nope.ggb")) == 1
    assert "nope.ggb: no such file" in capsys.readouterr().err
    assert not quarantined(data_dir)


def test_fingerprint_shape_matches_the_agents() -> None:
    public = bytes(range(32))
    assert fingerprint(public) == " ".join(
        hashlib.sha256(public).hexdigest()[i : i + 4] for i in range(0, 32, 4)
    )


class _Terminal(io.StringIO):
    """What the officer types, on something that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("typed", "code"), [("y\n", 0), ("n\n", 1), ("", 1)])
def test_accept_offline_asks_on_a_terminal(
    data_dir: Path,
    store: Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    typed: str,
    code: int,
) -> None:
    stage_request(tmp_path / "st", tmp_path / "r.req", identity=IDENTITY)
    monkeypatch.setattr("sys.stdin", _Terminal(typed))
    assert gg(data_dir, "agents", "accept-offline", str(tmp_path / "r.req"), "--unit", UNIT) == code
    captured = capsys.readouterr()
    assert "Dấu vân tay có khớp với số hiển thị trên máy tính không? [y/N]" in captured.out
    store.rollback()
    assert store.scalar(select(func.count()).select_from(Agent)) == code ^ 1
    assert (tmp_path / "r.response.json").exists() == (code == 0)
    if code:
        assert "không chấp nhận; không ghi gì" in captured.err
