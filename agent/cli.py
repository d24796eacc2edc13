"""govguard-agent: the command line of the agent.

``once`` collects everything and prints the report. Its exit status is non-zero only when the
agent itself failed (bad config, cannot write), never because a check found a problem.
``enroll``, ``run`` and ``status`` connect a PC to a controller; ``enroll --offline`` and
``export`` serve classified computers that never touch a network (docs/bundles.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

import msgspec

from agent import __version__
from agent.errors import AgentError
from agent.i18n import Translate, english

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

PENDING_TEXT = (
    "pending: enrolled as agent {agent}, but this computer was enrolled before with another "
    "key: an administrator must approve it on the controller (govguard agents approve {agent})"
)


def _build_parser() -> argparse.ArgumentParser:
    from agent.report import SECTION_NAMES

    parser = argparse.ArgumentParser(
        prog="govguard-agent",
        description="govguard agent: inventory, connectivity and security posture of this PC.",
    )
    parser.add_argument("--version", action="version", version=f"govguard-agent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    once = sub.add_parser("once", help="collect everything once and print the report")
    once.add_argument("--config", type=Path, help="agent config file (YAML)")
    once.add_argument("--pretty", action="store_true", help="indented JSON")
    once.add_argument(
        "--section",
        action="append",
        choices=SECTION_NAMES,
        metavar="NAME",
        help=f"only this section (repeatable): {', '.join(SECTION_NAMES)}",
    )
    once.add_argument("--summary", action="store_true", help="a short table instead of JSON")
    once.add_argument(
        "--lang",
        choices=("vi", "en"),
        default="vi",
        help="language of --summary: vi (Vietnamese, default) or en",
    )
    once.add_argument("--out", type=Path, help="write the report to this file instead of stdout")

    schema = sub.add_parser("schema", help="print the report's JSON Schema")
    schema.add_argument("--out", type=Path, help="write to this file instead of stdout")

    # -- run / status (agent-daemon) --
    run = sub.add_parser("run", help="the service: collect, queue and deliver reports")
    run.add_argument("--state-dir", type=Path, help="agent state directory")
    run.add_argument("--config", type=Path, help="agent config file (YAML)")
    run.add_argument(
        "--once-cycle",
        action="store_true",
        help="one collect-and-deliver round, then exit (tests, scheduled tasks)",
    )
    status = sub.add_parser("status", help="enrollment, outbox and last delivery")
    status.add_argument("--state-dir", type=Path, help="agent state directory")
    status.add_argument("--json", action="store_true", help="JSON instead of text")

    # enroll: the token comes from a file only; a command line is visible to every local user.
    # allow_abbrev=False so that `--token` is not taken as an abbreviation of --token-file.
    enroll = sub.add_parser(
        "enroll", help="enroll this computer with a govguard controller", allow_abbrev=False
    )
    enroll.add_argument("--controller", metavar="URL", help="https://host[:port]")
    enroll.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="file holding the enrollment token from `govguard tokens create`",
    )
    enroll.add_argument(
        "--state-dir", type=Path, help="state directory (default /var/lib/govguard-agent)"
    )
    enroll.add_argument(
        "--force",
        action="store_true",
        help="enroll again; the old files are kept as *.bak-<time> and reports still queued "
        "under the old identity are not sent",
    )
    enroll.add_argument(
        "--offline",
        action="store_true",
        help="classified computer, never on a network: enroll by carried files "
        "(--out REQUEST, then --accept RESPONSE; see docs/bundles.md)",
    )
    enroll.add_argument("--out", type=Path, metavar="REQUEST", help="--offline: write the request")
    enroll.add_argument(
        "--accept", type=Path, metavar="RESPONSE", help="--offline: read the officer's response"
    )
    export = sub.add_parser("export", help="offline computers: write a signed report bundle")
    export.add_argument("--to", required=True, type=Path, metavar="DIR", help="e.g. a USB stick")
    export.add_argument("--state-dir", type=Path, help="agent state directory")
    export.add_argument("--config", type=Path, help="agent config file (YAML)")
    for command in (run, status, enroll, export):
        command.add_argument(
            "--lang",
            choices=("vi", "en"),
            default="vi",
            help="language of the output: vi (Vietnamese, default) or en",
        )
    return parser


def _cmd_once(args: argparse.Namespace) -> int:
    from agent.collectors import collect_report, summary_lines
    from agent.config import load_config
    from agent.i18n import translator
    from agent.report import encode

    config = load_config(args.config)
    sections = frozenset(args.section) | {"identity"} if args.section else None
    report = collect_report(config, sections)
    if args.summary:
        t = translator(args.lang)
        text = _format_summary(summary_lines(config, report, t), report, t)
    elif args.pretty:
        text = json.dumps(json.loads(encode(report)), indent=2, ensure_ascii=False) + "\n"
    else:
        text = encode(report).decode("utf-8") + "\n"
    _write(args.out, text)
    return EXIT_OK


def _format_summary(lines: list[tuple[str, str]], report: object, t: Translate = english) -> str:
    from agent.report import Report

    assert isinstance(report, Report)  # noqa: S101 - narrows for mypy
    collectors, failed = t("Collectors"), f"  {t('failed')}"
    # The closing lines share the column with the sections' labels.
    width = max([len(collectors), len(failed), *(len(label) for label, _ in lines)])
    out = [f"{label.ljust(width)}  {value}" for label, value in lines]
    unknown = sum(
        len(getattr(report, c.name).unknown) for c in report.collectors if getattr(report, c.name)
    )
    totals = t("{run} run, {failed} failed, {unknown} facts unknown").format(
        run=len(report.collectors), failed=len(report.errors), unknown=unknown
    )
    out.append(f"{collectors.ljust(width)}  {totals}")
    for err in report.errors:
        out.append(f"{failed.ljust(width)}  {err.collector}: {err.message}")
    return "\n".join(out) + "\n"


def _cmd_schema(args: argparse.Namespace) -> int:
    from agent.report import json_schema

    _write(args.out, json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK


def _cmd_enroll(args: argparse.Namespace) -> int:
    from agent.enrollment import enroll_computer
    from agent.i18n import translator
    from agent.state import default_state_dir

    state_dir = args.state_dir or default_state_dir()
    t = translator(args.lang)
    if args.offline:
        return _cmd_enroll_offline(args, state_dir, t)
    if args.out or args.accept:
        raise AgentError("--out and --accept belong to --offline enrollment")
    if not args.controller or not args.token_file:
        raise AgentError("enroll needs --controller URL and --token-file FILE (or --offline)")
    done = enroll_computer(
        args.controller, _read_token_file(args.token_file), state_dir, force=args.force
    )
    state = done.state
    if state.status == "pending":
        text = t(PENDING_TEXT)
        print(text.format(agent=state.agent_id))
    else:
        text = t("enrolled: this computer is agent {agent} of {controller}")
        print(text.format(agent=state.agent_id, controller=state.controller_url))
    if done.backups:
        text = t("kept the previous identity's files in {dir}: {files}")
        print(text.format(dir=state_dir, files=", ".join(p.name for p in done.backups)))
    if done.old_outbox is not None:
        if done.unsent is None:
            text = t(
                "reports still queued under the previous identity, if any, will not be sent; "
                "they stay in {path}"
            )
        elif done.unsent:
            text = t(
                "{count} reports queued under the previous identity will not be sent; "
                "they stay in {path}"
            )
        else:
            text = t("no report was waiting to be sent under the previous identity")
        print(text.format(count=done.unsent, path=done.old_outbox))
    return EXIT_OK


def _cmd_enroll_offline(args: argparse.Namespace, state_dir: Path, t: Translate) -> int:
    from agent.offline import accept_response, stage_request

    if args.controller or args.token_file:
        raise AgentError("--offline enrollment takes no --controller nor --token-file")
    if (args.out is None) == (args.accept is None):
        raise AgentError("enroll --offline needs either --out REQUEST or --accept RESPONSE")
    if args.accept is not None:
        state = accept_response(state_dir, args.accept, force=args.force)
        text = t("enrolled offline: this computer is agent {agent}; export its reports with "
                 "`govguard-agent export --to DIR`")  # fmt: skip
        print(text.format(agent=state.agent_id))
        return EXIT_OK
    staged = stage_request(state_dir, args.out, force=args.force)
    print(t("request written to {path}: carry it to the controller").format(path=args.out))
    print(t("host {host}, key {key}").format(host=staged.request.hostname,
                                            key=staged.request.key_id))  # fmt: skip
    print(t("key fingerprint (compare it aloud with the controller's):"))
    print(f"    {staged.fingerprint}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from agent.bundle import export_bundle
    from agent.config import load_config
    from agent.i18n import translator
    from agent.state import default_state_dir

    t = translator(args.lang)
    done = export_bundle(args.state_dir or default_state_dir(), args.to, load_config(args.config))
    lines = [
        (t("Bundle"), str(done.path)),
        (t("Host"), done.hostname),
        (t("Number"), str(done.seq)),
        (t("Sections"), ", ".join(done.sections)),
        (t("Report"), t("{size} bytes compressed").format(size=done.report_bytes)),
        (t("Bundle size"), t("{size} bytes").format(size=done.size)),
        (t("SHA-256"), done.digest),
    ]
    width = max(len(label) for label, _ in lines)
    print(t("This bundle leaves the room with:"))
    for label, value in lines:
        print(f"  {label.ljust(width)}  {value}")
    if not done.chained:
        print(t("note: an earlier bundle number was never written (interrupted export); "
                "the controller will report a gap"))  # fmt: skip
    return EXIT_OK


def _read_token_file(path: Path) -> str:
    """The token text from ``path``: one line, small, never echoed."""
    from agent.token import TokenFormatError, parse_token

    try:
        data = path.read_bytes()[:4096]
    except OSError as exc:
        try:
            parse_token(str(path))
        except TokenFormatError:
            raise AgentError(f"{path}: cannot read the token file: {exc.strerror or exc}") from exc
        raise AgentError(
            "--token-file takes a file that holds the token, not the token itself "
            "(command lines are visible to other users)"
        ) from exc
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        raise AgentError(f"{path}: the token file is empty")
    return text


def _cmd_run(args: argparse.Namespace) -> int:
    import signal

    from agent.config import load_config
    from agent.daemon import open_daemon
    from agent.state import default_state_dir

    daemon = open_daemon(args.state_dir or default_state_dir(), load_config(args.config))

    def _stop(signum: int, frame: object) -> None:
        daemon.stop()  # the loop ends between two steps, never inside a database write

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):  # SIGBREAK: Ctrl+Break on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop)
    try:
        cycle = daemon.run(once=args.once_cycle)
        if cycle is not None:
            from agent.i18n import translator

            t = translator(args.lang)
            queued = t("nothing queued")
            if cycle.queued_seq:
                queued = t("queued {kind} #{seq}").format(
                    kind=t(cycle.queued_kind or ""), seq=cycle.queued_seq
                )
            line = t("{queued}; delivered {sent}, waiting {waiting}").format(
                queued=queued, sent=len(cycle.acked), waiting=daemon.outbox.stats().queued
            )
            if cycle.error:
                line += t("; error: {error}").format(error=cycle.error)
            print(line)
            if cycle.error:
                # The report stays queued (``waiting`` above), but a script or a technician
                # running one cycle by hand must see that it was not delivered.
                return EXIT_FAILURE
    finally:
        daemon.close()
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from agent.i18n import translator
    from agent.state import default_state_dir
    from agent.status import format_status, read_status

    info = read_status(args.state_dir or default_state_dir())
    text = format_status(info, translator(args.lang))
    sys.stdout.write(json.dumps(info, indent=2) + "\n" if args.json else text)
    return EXIT_OK


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AgentError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``govguard-agent``; returns the process exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handlers = {"once": _cmd_once, "schema": _cmd_schema, "enroll": _cmd_enroll}
    handlers.update(run=_cmd_run, status=_cmd_status, export=_cmd_export)
    if args.command not in handlers:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handlers[args.command](args)
    except AgentError as exc:
        print(f"govguard-agent: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except msgspec.ValidationError as exc:
        print(f"govguard-agent: error: invalid data: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("govguard-agent: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (``once --pretty | head``): not an error worth a traceback. Point
        # stdout at devnull so the interpreter's final flush does not raise again (Python docs,
        # signal module, "Note on SIGPIPE").
        with contextlib.suppress(OSError, ValueError):  # stdout may have no descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # last resort: one line, never a traceback
        print(f"govguard-agent: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
