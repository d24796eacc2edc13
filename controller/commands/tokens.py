"""``govguard tokens create|list|revoke``: enrollment tokens for new computers."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import IO

from controller import tokens
from controller.commands.common import (
    CliError,
    actor,
    agent_url,
    now,
    open_store,
    print_table,
    settings,
    when,
)
from controller.pki import PkiError, ca_fingerprint
from controller.store import tokens as token_store
from controller.store.models import EnrollmentToken


def create(args: argparse.Namespace) -> int:
    """Create a token; print it, or write it to ``--out`` (0600) for ``--token-file``."""
    current = settings(args)
    try:
        expires = tokens.parse_duration(args.expires)
    except tokens.TokenError as exc:
        raise CliError(f"--expires: {exc}") from exc
    try:
        fingerprint = ca_fingerprint(current.ca_cert.read_bytes())
    except OSError as exc:
        raise CliError(f"{current.ca_cert}: cannot read the CA: {exc.strerror or exc}") from exc
    except PkiError as exc:
        raise CliError(f"{current.ca_cert}: {exc}") from exc
    # Open the output first: a path that cannot be written must fail before the token exists.
    out = _open_private(args.out) if args.out is not None else None
    try:
        with open_store(current) as session:
            try:
                text = tokens.create_token(
                    session,
                    unit_id=args.unit,
                    expires=expires,
                    uses=args.uses,
                    created_by=actor(),
                    ca_fingerprint=fingerprint,
                    now=now(),
                    note=args.note,
                )
            except tokens.TokenError as exc:
                raise CliError(str(exc)) from exc
        token_id = text.split(".")[1]
        if out is None:
            print(text)
        else:
            out.write(text + "\n")
            out.close()
    except BaseException:
        if out is not None:
            out.close()
            with contextlib.suppress(OSError):
                args.out.unlink()
        raise
    summary = (
        f"token {token_id} for unit {args.unit}: {args.uses} use(s), "
        f"valid until {when(now() + expires)}"
    )
    if out is None:
        # The token alone goes to stdout (scripts capture it); the summary to stderr.
        print(summary, file=sys.stderr)
    else:
        print(f"{summary}; written to {args.out}")
        print(
            f"on the PC: govguard-agent enroll --controller {agent_url(current)} "
            f"--token-file {args.out.name}"
        )
    return 0


def _open_private(path: Path) -> IO[str]:
    try:
        # O_EXCL: never overwrite a file (it may be another token someone still needs).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise CliError(f"{path}: already exists; choose another --out file") from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return os.fdopen(fd, "w", encoding="ascii")


def list_(args: argparse.Namespace) -> int:
    """Print every token with its state; secrets are never stored, so never shown."""
    at = now()
    with open_store(settings(args)) as session:
        rows = [
            (
                token.id,
                token.unit_id,
                _state(token, at),
                f"{token.uses}/{token.max_uses}",
                when(token.expires_at),
                token.created_by,
                token.note or "",
            )
            for token in token_store.list_tokens(session)
        ]
    headers = ("ID", "UNIT", "STATE", "USES", "EXPIRES", "CREATED BY", "NOTE")
    print_table(headers, rows, "no enrollment tokens")
    return 0


def _state(token: EnrollmentToken, at: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.uses >= token.max_uses:
        return "used"
    if token.expires_at <= at:
        return "expired"
    return "usable"


def revoke(args: argparse.Namespace) -> int:
    """Revoke a token so it can enroll nothing more."""
    with open_store(settings(args)) as session:
        try:
            tokens.revoke_token(session, args.id, revoked_by=actor(), now=now())
        except tokens.TokenError as exc:
            raise CliError(str(exc)) from exc
    print(f"revoked token {args.id.strip().lower()}")
    return 0
