"""``govguard remediate RULE|FINDING``: ask for a remediation job, optionally run it here.

The job is the workflow's (:func:`controller.remediation.workflow.request`), recorded with the
actor ``cli:<login>``. Its runs are executed by ``govguard worker``; ``--wait`` executes them in
this process instead (through the worker's own code, so claims, events, heartbeats and the end
of a run are the same), prints the live log with a progress line, then waits for the
verification result.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from controller.commands.common import CliError, actor, now, open_engine, open_store, settings
from controller.remediation import workflow
from controller.remediation.model import RemediationError
from controller.settings import Settings
from controller.store import remediation as store
from controller.store.models import RemediationEvent

SOURCE = "cli"
#: ``12`` or ``#12``: a finding; anything else is a rule id (ATTT-07, CQĐT-08).
FINDING = re.compile(r"#?(\d{1,12})")
RULE = re.compile(r"[^\s/\\]{1,64}")
#: How often the live log looks for new events and the job's status (seconds).
POLL_S = 1.0
#: Events whose host result counts in the progress line.
OK_EVENTS = frozenset({"runner_on_ok"})
FAILED_EVENTS = frozenset({"runner_on_failed", "runner_on_unreachable"})


def _target(text: str | None) -> tuple[str | None, int | None]:
    """``(rule id, finding id)`` from the positional argument."""
    if text is None:
        return None, None
    found = FINDING.fullmatch(text.strip())
    if found:
        return None, int(found.group(1))
    if not RULE.fullmatch(text.strip()):
        raise CliError(f"{text!r} is neither a rule id (ATTT-07) nor a finding (12 or #12)")
    return text.strip(), None


def run(args: argparse.Namespace) -> int:
    """Request a job (preview first); ``--approve`` approves it in advance, ``--wait`` runs it."""
    rule_id, finding_id = _target(args.target)
    if args.check and args.approve:
        raise CliError("--check asks for a preview only; it cannot go with --approve")
    if rule_id is None and finding_id is None and args.playbook is None:
        raise CliError("name a rule (ATTT-07), a finding (#12), or --playbook with --hosts")
    if args.approve and not args.yes:
        _confirm(args)
    current = settings(args)
    refused: RemediationError | None = None
    with open_store(current) as session:
        try:
            job = workflow.request(
                session,
                current,
                playbook=args.playbook,
                rule_id=rule_id,
                finding_id=finding_id,
                hosts=args.hosts or (),
                actor=actor(),
                origin="cli",
                source=SOURCE,
                approve=args.approve,
                now=now(),
            )
        except RemediationError as exc:
            # The refusal's audit entry is in this transaction: commit it, then say why.
            refused = exc
        else:
            view = store.job_view(session, job.id)
    if refused is not None:
        raise CliError(str(refused))
    if view is None:  # the job just committed; only a concurrent purge could hide it
        raise CliError("the job was requested but cannot be read back")
    _describe(view)
    if not args.wait:
        return 0
    return wait(current, view.job.id)


def _confirm(args: argparse.Namespace) -> None:
    if not sys.stdin.isatty():
        raise CliError("--approve approves the run in advance: add --yes when not at a terminal")
    what = args.target or args.playbook
    answer = input(
        f"approve the remediation of {what} in advance (it runs after its preview)? [y/N] "
    )
    if answer.strip().lower() not in ("y", "yes", "c", "có"):
        raise CliError("not approved; nothing was requested")


def _describe(view: store.JobView) -> None:
    job = view.job
    about = f" for {job.rule_id}" if job.rule_id else ""
    print(f"job {job.id}: {job.playbook}{about} on {len(view.targets)} hosts: {job.status}")
    for target in view.targets:
        note = {
            "pending": "preview queued" if view.runs else "runs after the approval",
            "waiting": "offline: runs when its agent next reports",
        }.get(target.state, target.state)
        print(f"  {target.host}{' (classified)' if target.classified else ''}: {note}")
    if job.status == "previewing":
        after = (
            "then the run starts by itself (approved in advance)"
            if job.decided_at
            else f"then approve it with `govguard jobs approve {job.id}`"
        )
        print(f"next: `govguard worker` runs the preview (check mode, changes nothing); {after}")
    elif job.status == "awaiting_approval":
        print(f"next: every host is offline, no preview; `govguard jobs approve {job.id}`")
    else:
        print("next: the hosts run when their agents next report")
    print(f"follow it with `govguard jobs show {job.id} --follow`")


class Progress:
    """The live log: each event's text, and on a terminal a status line kept at the bottom
    (task N, hosts ok / changed / failed, elapsed time)."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.task_no = 0
        self.task = ""
        self.ok = self.changed = self.failed = 0
        self.started = time.monotonic()

    def status(self) -> str:
        """The progress line."""
        elapsed = int(time.monotonic() - self.started)
        task = f"task {self.task_no}: {self.task[:50]}" if self.task_no else "waiting"
        return (
            f"[{task}] ok {self.ok}, changed {self.changed}, failed {self.failed}"
            f" · {elapsed // 60:02d}:{elapsed % 60:02d}"
        )

    def add(self, event: RemediationEvent) -> None:
        """Count ``event`` and print its text."""
        if event.event == "playbook_on_task_start":
            self.task_no += 1
            self.task = event.task or ""
        elif event.event in OK_EVENTS:
            self.ok += 1
            self.changed += 1 if event.changed else 0
        elif event.event in FAILED_EVENTS:
            self.failed += 1
        text = (event.stdout or "").strip("\n")
        if self.tty:
            self.out.write("\r\x1b[K")
        if text:
            self.out.write(text + "\n")
        if self.tty:
            self.out.write(self.status())
        self.out.flush()

    def say(self, line: str) -> None:
        """A line of our own (the job's status), above the progress line."""
        self.out.write(("\r\x1b[K" if self.tty else "") + line + "\n")
        if self.tty:
            self.out.write(self.status())
        self.out.flush()

    def end(self) -> None:
        """Leave the progress line on its own line."""
        if self.tty:
            self.out.write("\n")
            self.out.flush()


def print_events(events: Sequence[RemediationEvent]) -> None:
    """Events' texts, plain."""
    log = Progress(sys.stdout, tty=False)
    for event in events:
        log.add(event)


def follow(current: Settings, job_id: int, *, drive: bool = False) -> int:
    """Print the job's log as it comes until the job ends (or waits for an approval); with
    ``drive``, also tick the workflow (verification, hosts back online) as the worker would.
    Exit status 0 when the job is fixed or waits for an approval, 1 otherwise."""
    from controller.remediation.workflow import tick
    from controller.store import db

    progress = Progress(sys.stdout, tty=sys.stdout.isatty())
    last = 0
    said = ""
    with open_engine(current) as engine:
        sessions = db.session_factory(engine)
        while True:
            with sessions() as session:
                events = store.events_after(session, job_id, last)
                job = store.get_job(session, job_id)
            if job is None:
                raise CliError(f"no remediation job {job_id}")
            for event in events:
                progress.add(event)
                last = event.id
            if job.status != said:
                said = job.status
                error = f": {job.error}" if job.error else ""
                progress.say(f"job {job_id}: {job.status}{error}")
            if job.status in store.TERMINAL or job.status == "awaiting_approval":
                break
            if drive and not events:
                with sessions() as s, s.begin():
                    db.write_session(s)
                    tick(s, current, now())
            time.sleep(POLL_S)
    progress.end()
    if job.status == "awaiting_approval":
        print(f"approve it with `govguard jobs approve {job_id}`")
        return 0
    with open_store(current) as session:
        view = store.job_view(session, job_id)
    if view is not None:
        for target in view.targets:
            print(f"  {target.host}: {target.state}, verification {target.verification or '-'}")
    return 0 if job.status == "fixed" else 1


def wait(current: Settings, job_id: int) -> int:
    """Execute the job's queued runs here (``govguard worker``'s code) while printing the live
    log, then wait for the verification; the exit status of :func:`follow`."""
    from controller.remediation.worker import RemediationWorker
    from controller.store import db

    result: list[int] = []
    printer = threading.Thread(
        target=lambda: result.append(follow(current, job_id, drive=True)),
        name="remediation-log",
        daemon=True,
    )
    with open_engine(current) as engine:
        worker = RemediationWorker(db.session_factory(engine), current)
        printer.start()
        # In this thread, so Ctrl-C stops the playbook (the run ends interrupted).
        while printer.is_alive():
            worker.drain(job_id)
            printer.join(POLL_S)
    return result[0] if result else 1
