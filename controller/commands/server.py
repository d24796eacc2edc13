"""``govguard serve``, ``govguard config check`` and ``govguard tls renew``."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from controller.commands.common import (
    CliError,
    agent_url,
    database_error,
    now,
    safe_url,
    settings,
)
from controller.pki import (
    PkiError,
    certificate_names,
    check_server_cert,
    issue_server_cert,
    load_certificate,
    write_private,
    write_public,
)
from controller.settings import Settings


def serve(args: argparse.Namespace) -> int:
    """Run the HTTPS server(s) until interrupted."""
    current = settings(args)
    _check_tls(current.tls_cert, current.tls_key)
    # Imported here: FastAPI and uvicorn are only needed by this command.
    from controller.server import ServeError
    from controller.server import serve as run_server

    try:
        run_server(current)
    except ServeError as exc:
        raise CliError(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise database_error(exc, current.database_url) from exc
    return 0


def check(args: argparse.Namespace) -> int:
    """Validate config.yaml, the TLS files and the database; print what the controller would use.

    Every problem is one line on stderr; exit 1 when something would break the controller or
    its agents, 0 when there are only warnings (a certificate expiring soon, an older schema
    that `govguard serve` upgrades).
    """
    current = settings(args)
    errors: list[str] = []
    warnings: list[str] = []
    not_after = _check_certificates(current, errors, warnings)
    schema = _check_database(current, errors, warnings)
    scrape = _check_metrics(current, errors)
    for message in errors:
        print(f"govguard: error: {message}", file=sys.stderr)
    for message in warnings:
        print(f"govguard: warning: {message}", file=sys.stderr)
    if errors:
        return 1
    admin = current.listen.admin
    print(f"{current.config_path}: ok")
    print(f"  database:        {safe_url(current.database_url)} ({schema})")
    print(f"  server names:    {', '.join(current.server_names)}")
    if not_after is not None:
        print(f"  certificate:     valid until {not_after.strftime('%Y-%m-%d %H:%MZ')}")
    print(f"  agents connect:  {agent_url(current)}")
    agents = current.listen.agents
    print(f"  listen (agents): {agents.host}:{agents.port}")
    print(f"  listen (admin):  {f'{admin.host}:{admin.port}' if admin else 'same as agents'}")
    print(f"  settings version sent to agents: {current.settings_version}")
    notify = current.notify
    smtp = f"mail via {notify.smtp.host}:{notify.smtp.port}" if notify.smtp else "no mail"
    print(
        f"  notifications:   {len(notify.routes)} routes, {smtp}, "
        f"{len(notify.webhooks)} webhooks, digest at {notify.digest_hour:02d}:00 {notify.timezone}"
    )
    print(f"  metrics:         {scrape}")
    return 0


def _check_metrics(current: Settings, errors: list[str]) -> str:
    """Where ``/metrics`` is served and how it is protected; an unusable token file is an error."""
    if not current.metrics.enabled:
        return "off"
    from controller.metrics.token import MetricsTokenError, read_token

    where = "/metrics on the admin listener" if current.listen.admin else "/metrics"
    try:
        token = read_token(current)
    except MetricsTokenError as exc:
        errors.append(str(exc))
        return where
    return f"{where}, {'bearer token required' if token else 'no token (metrics.token_file)'}"


def _read(path: Path, errors: list[str]) -> bytes | None:
    try:
        with path.open("rb") as source:
            return source.read()
    except FileNotFoundError:
        errors.append(f"{path}: missing (was this data directory made by `govguard init`?)")
    except OSError as exc:
        errors.append(f"{path}: cannot read: {exc.strerror or exc}")
    return None


def _check_certificates(
    current: Settings, errors: list[str], warnings: list[str]
) -> datetime | None:
    """The CA and server files as agents will see them; returns the server cert's expiry."""
    ca_pem = _read(current.ca_cert, errors)
    _read(current.ca_key, errors)
    cert_pem = _read(current.tls_cert, errors)
    key_pem = _read(current.tls_key, errors)
    if ca_pem is None or cert_pem is None or key_pem is None:
        return None
    for path, pem in ((current.ca_cert, ca_pem), (current.tls_cert, cert_pem)):
        try:
            load_certificate(pem)
        except PkiError as exc:
            errors.append(f"{path}: {exc}")
            return None
    found = check_server_cert(ca_pem, cert_pem, key_pem, current.server_names, now())
    errors.extend(f"{current.tls_cert}: {message}" for message in found.errors)
    warnings.extend(f"{current.tls_cert}: {message}" for message in found.warnings)
    return found.not_after


def _check_database(current: Settings, errors: list[str], warnings: list[str]) -> str:
    """Connect and compare the schema revision with this govguard's; returns a short status."""
    from sqlalchemy.engine import make_url

    from controller.store import db

    url = current.database_url
    shown = safe_url(url)
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except ArgumentError as exc:
        errors.append(f"bad database_url in {current.config_path}: {exc}")
        return "unusable"
    if backend == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        # Connecting would create an empty file and hide the real mistake.
        errors.append(f"database {shown}: the file does not exist (run `govguard init`?)")
        return "missing"
    # A controller that cannot be reached must not hang the check for minutes.
    options: dict[str, Any] = (
        {"connect_args": {"connect_timeout": 10}} if backend == "postgresql" else {}
    )
    try:
        engine = db.make_engine(url, **options)
    except (ArgumentError, ValueError) as exc:
        errors.append(f"bad database_url in {current.config_path}: {exc}")
        return "unusable"
    try:
        revision = db.current_revision(engine)
    except SQLAlchemyError as exc:
        errors.append(str(database_error(exc, url)))
        return "unreachable"
    finally:
        engine.dispose()
    head = db.head_revision()
    if revision is None:
        errors.append(f"database {shown} has no govguard tables; run `govguard init` first")
        return "empty"
    if revision == head:
        return f"schema {revision}, current"
    if db.is_known_revision(revision):
        warnings.append(
            f"database {shown} has schema {revision}, this govguard expects {head}: "
            "`govguard serve` upgrades it when it starts"
        )
        return f"schema {revision}, upgraded by serve"
    errors.append(
        f"database {shown} has schema {revision}, unknown to this govguard (expects {head}): "
        "it was upgraded by a newer govguard"
    )
    return f"schema {revision}, newer"


def renew(args: argparse.Namespace) -> int:
    """A new server certificate from the existing CA for the current server_names.

    Agents pin the CA, not the server certificate, so they accept the new one without
    re-enrolling. The old files are kept as ``server.crt.<stamp>.bak`` / ``server.key...``.
    """
    current = settings(args)
    ca_pem = _required(current.ca_cert)
    ca_key_pem = _required(current.ca_key)
    try:
        cert_pem, key_pem = issue_server_cert(ca_pem, ca_key_pem, current.server_names)
    except PkiError as exc:
        raise CliError(f"{current.tls_dir}: cannot issue a certificate: {exc}") from exc
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    kept: list[Path] = []
    try:
        for path, write in ((current.tls_cert, write_public), (current.tls_key, write_private)):
            if path.exists():
                backup = path.with_name(f"{path.name}.{stamp}.bak")
                write(backup, path.read_bytes())  # the old key stays 0600
                kept.append(backup)
        # Key first, then certificate: both are replaced atomically, each complete or absent.
        write_private(current.tls_key, key_pem)
        write_public(current.tls_cert, cert_pem)
    except OSError as exc:
        raise CliError(
            f"{exc.filename or current.tls_dir}: cannot write: {exc.strerror or exc}"
            + (f" (the old files are kept as {', '.join(p.name for p in kept)})" if kept else "")
        ) from exc
    expires = load_certificate(cert_pem).not_valid_after_utc.strftime("%Y-%m-%d")
    print(f"new server certificate for {', '.join(current.server_names)}, valid until {expires}")
    print(f"  written: {current.tls_cert}, {current.tls_key}")
    if kept:
        print(f"  old files kept as: {', '.join(p.name for p in kept)}")
    print(
        "Restart the controller to use it (systemctl restart govguard-controller, or stop and "
        "start `govguard serve`).\nAgents keep working: they trust the CA, which is unchanged."
    )
    return 0


def _required(path: Path) -> bytes:
    errors: list[str] = []
    data = _read(path, errors)
    if data is None:
        raise CliError(errors[0])
    return data


def _check_tls(cert: Path, key: Path) -> list[str]:
    """Both files readable and the certificate parseable; returns the names it is valid for."""
    for path in (cert, key):
        try:
            with path.open("rb") as source:
                data = source.read()
        except FileNotFoundError as exc:
            raise CliError(
                f"{path}: missing (was this data directory made by `govguard init`?)"
            ) from exc
        except OSError as exc:
            raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        if path == cert:
            try:
                names = certificate_names(data)
            except PkiError as exc:
                raise CliError(f"{path}: {exc}") from exc
    return names
