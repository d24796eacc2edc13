"""The dynamic Ansible inventory: ``--list`` and ``--host NAME`` from the controller's database.

Installed as the ``govguard-inventory`` command (``ansible-inventory -i
/opt/govguard/bin/govguard-inventory --list``), so an installed controller needs no checkout;
``inventory/govguard_inventory.py`` in a checkout finds govguard's interpreter and calls
:func:`main`. The data directory is ``$GOVGUARD_DATA_DIR``, else ``/var/lib/govguard``, as for
``govguard``. Errors are one line on stderr and exit status 1 (Ansible shows stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn


def _fail(message: str) -> NoReturn:
    print(f"govguard_inventory: error: {message}", file=sys.stderr)
    sys.exit(1)


def _district() -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from controller.commands.common import CliError, data_dir, open_engine
    from controller.remediation.inventory import district
    from controller.settings import SettingsError, load_settings
    from controller.store import db

    try:
        settings = load_settings(data_dir(argparse.Namespace(data_dir=None)))
        with open_engine(settings) as engine, db.session_factory(engine)() as session:
            return district(session, settings)
    except (CliError, SettingsError) as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"database error: {str(exc).splitlines()[0]}")


def main(argv: list[str] | None = None) -> None:
    """Answer ``--list`` or ``--host NAME`` as Ansible's script inventory plugin asks."""
    from controller.remediation.inventory import dynamic_list

    parser = argparse.ArgumentParser(description="govguard's dynamic Ansible inventory")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--list", action="store_true", help="every group and host variable")
    which.add_argument("--host", metavar="NAME", help="the variables of one host")
    args = parser.parse_args(argv)
    inventory = _district()
    if args.list:
        out = dynamic_list(inventory)
    else:
        hosts = inventory["all"]["hosts"]
        if args.host not in hosts:
            _fail(f"unknown host {args.host!r}")
        out = hosts[args.host]
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
