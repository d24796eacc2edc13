"""``govguard serve`` and ``govguard config check``."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from controller.commands.common import CliError, agent_url, database_error, safe_url, settings
from controller.pki import PkiError, certificate_names


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
    """Validate config.yaml and the TLS files; print what the controller would use."""
    current = settings(args)
    _check_tls(current.ca_cert, current.ca_key)
    in_cert = _check_tls(current.tls_cert, current.tls_key)
    missing = [name for name in current.server_names if name not in in_cert]
    if missing:
        raise CliError(
            f"{current.tls_cert}: not valid for {', '.join(missing)} (server_names in "
            f"{current.config_path}); agents using that name would refuse the controller"
        )
    admin = current.listen.admin
    print(f"{current.config_path}: ok")
    print(f"  database:        {safe_url(current.database_url)}")
    print(f"  server names:    {', '.join(current.server_names)}")
    print(f"  agents connect:  {agent_url(current)}")
    agents = current.listen.agents
    print(f"  listen (agents): {agents.host}:{agents.port}")
    print(f"  listen (admin):  {f'{admin.host}:{admin.port}' if admin else 'same as agents'}")
    print(f"  settings version sent to agents: {current.settings_version}")
    return 0


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
