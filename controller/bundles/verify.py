"""Check a bundle's members: the manifest's signature first, then everything it lists.

Order matters (docs/bundles.md): ``manifest.sig`` is a fixed-form text naming the key, the key
is looked up in the agents table and the signature checked over the exact bytes of
``manifest.json``; only then is the manifest parsed as JSON. Each report inside is then checked
like an online report (:func:`controller.ingest.checks.verify_report`): its own signature before
its body is decompressed or decoded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from agent.bundle import FORMAT, MANIFEST, SIGNATURE, SIGNING_PREFIX, Manifest, report_names
from agent.envelope import EnvelopeError, b64url_decode
from controller.bundles.read import BundleLimits, BundleRefused, Members
from controller.ingest.checks import IngestError, Limits, parse_envelope, verify_report
from controller.store.agents import AgentCredentials, get_agent_by_key
from controller.store.models import Agent
from controller.store.reports import NewReport

_SIGNATURE = re.compile(rb"govguard-bundle-v1\n([0-9a-f]{16})\n([A-Za-z0-9_-]{86})\n")


@dataclass(frozen=True)
class Verified:
    """A bundle whose signature, members and reports all check out."""

    agent: Agent
    manifest: Manifest
    reports: list[NewReport]
    #: SHA-256 (hex) of the bundle file.
    digest: str


def verify_bundle(
    s: Session, members: Members, limits: BundleLimits, received_at: datetime
) -> Verified:
    """The verified content of ``members``; :class:`BundleRefused` with the reason otherwise."""
    agent = _signer(s, members.files[SIGNATURE], members.files[MANIFEST])
    manifest = _manifest(members.files[MANIFEST], agent)
    _check_files(members, manifest)
    creds = AgentCredentials(agent.id, agent.key_id, agent.public_key, agent.status)
    checks = Limits(limits.max_body_bytes, limits.max_decompressed_bytes)
    reports: list[NewReport] = []
    for entry in manifest.files:
        if not entry.name.endswith(".env"):
            continue
        env_name, body_name = report_names(_number(entry.name))
        if env_name != entry.name or body_name not in members.files:
            raise BundleRefused(f"{entry.name} has no report body {body_name}")
        reports.append(_report(members, env_name, body_name, creds, checks, received_at))
    if len(reports) * 2 != len(manifest.files):
        raise BundleRefused("the manifest lists a report body without its envelope")
    digest = hashlib.sha256(members.raw).hexdigest()
    return Verified(agent, manifest, reports, digest)


def _signer(s: Session, signature_file: bytes, manifest_bytes: bytes) -> Agent:
    """The offline agent whose key signed ``manifest_bytes``, checked before any JSON parsing."""
    match = _SIGNATURE.fullmatch(signature_file)
    if match is None:
        raise BundleRefused(f"{SIGNATURE} is not a {FORMAT} signature")
    key_id = match.group(1).decode("ascii")
    agent = get_agent_by_key(s, key_id)
    if agent is None:
        raise BundleRefused(
            f"no agent has key {key_id} here (accept it first: `govguard agents accept-offline`)"
        )
    if agent.status == "revoked":
        raise BundleRefused(f"agent {agent.id} ({agent.hostname}) has been revoked")
    if agent.status != "active":
        raise BundleRefused(f"agent {agent.id} ({agent.hostname}) is {agent.status}, not active")
    if not agent.offline:
        # An online agent's key must never vouch for a carried file: only computers enrolled
        # by an officer for offline use report this way.
        raise BundleRefused(
            f"agent {agent.id} ({agent.hostname}) is an online agent; "
            "only offline-enrolled agents import bundles"
        )
    try:
        signature = b64url_decode(match.group(2).decode("ascii"))
        Ed25519PublicKey.from_public_bytes(agent.public_key).verify(
            signature, SIGNING_PREFIX + manifest_bytes
        )
    except (InvalidSignature, EnvelopeError, ValueError) as exc:
        raise BundleRefused(
            f"the manifest's signature is not valid for agent {agent.id}'s key "
            "(the bundle was altered, or signed by another key)"
        ) from exc
    return agent


def _manifest(data: bytes, agent: Agent) -> Manifest:
    try:
        manifest = msgspec.json.decode(data, type=Manifest)
    except msgspec.DecodeError as exc:
        raise BundleRefused(f"{MANIFEST} is not a valid manifest: {exc}") from exc
    if manifest.format != FORMAT:
        raise BundleRefused(f"unsupported bundle format {manifest.format[:40]!r}")
    if manifest.agent_id != agent.id or manifest.key_id != agent.key_id:
        raise BundleRefused(
            f"the manifest names agent {manifest.agent_id} but is signed by agent {agent.id}"
        )
    return manifest


def _check_files(members: Members, manifest: Manifest) -> None:
    """Exactly the listed files are present, each with its listed size and SHA-256."""
    listed = [entry.name for entry in manifest.files]
    if len(set(listed)) != len(listed):
        raise BundleRefused("the manifest lists a file twice")
    present = set(members.files) - {MANIFEST, SIGNATURE}
    extra = sorted(present - set(listed))
    if extra:
        raise BundleRefused(f"member {extra[0][:80]!r} is not listed in the manifest")
    missing = sorted(set(listed) - present)
    if missing:
        raise BundleRefused(f"{missing[0][:80]!r} is listed in the manifest but missing")
    for entry in manifest.files:
        data = members.files[entry.name]
        if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BundleRefused(f"{entry.name} does not match the manifest (altered)")


def _number(name: str) -> int:
    digits = name.removeprefix("reports/").split(".", 1)[0]
    return int(digits) if digits.isascii() and digits.isdigit() else 0


def _report(
    members: Members,
    env_name: str,
    body_name: str,
    creds: AgentCredentials,
    checks: Limits,
    received_at: datetime,
) -> NewReport:
    try:
        header = members.files[env_name].decode("ascii").strip()
        env = parse_envelope(header)
        if env.agent_id != creds.id or env.seq != _number(env_name):
            raise BundleRefused(f"{env_name}: the envelope is not agent {creds.id}'s report there")
        body = members.files[body_name]
        if len(body) > checks.max_body_bytes:
            raise BundleRefused(f"{body_name} is larger than {checks.max_body_bytes} bytes")
        report = verify_report(env, creds, body, checks, clock_header=None, received_at=received_at)
        # Carried for days: the time between signing and import says nothing of the clock.
        return replace(report, clock_skew_s=None, source="bundle")
    except UnicodeDecodeError as exc:
        raise BundleRefused(f"{env_name} is not an envelope header") from exc
    except IngestError as exc:
        raise BundleRefused(f"{env_name}: {exc.message}") from exc
