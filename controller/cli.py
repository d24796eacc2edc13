"""govguard: the controller's command line.

The controller (enrollment, storage, policies, dashboard) is built by the following issues. For
now it offers what the report schema already allows: validating a report file with the same
models the agent writes it with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from agent import __version__
from agent.report import decode


def _cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            report = decode(path.read_bytes())
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        except msgspec.DecodeError as exc:
            print(f"{path}: not a valid report: {exc}", file=sys.stderr)
            failed += 1
            continue
        host = report.identity.hostname if report.identity else "?"
        print(f"{path}: valid report v{report.schema_version} from {host}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``govguard``; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="govguard", description="govguard controller")
    parser.add_argument("--version", action="version", version=f"govguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate = sub.add_parser("validate", help="check report files against the report schema")
    validate.add_argument("files", nargs="+", type=Path, metavar="REPORT.json")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _cmd_validate(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
