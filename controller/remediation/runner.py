"""One ansible-runner execution in its own private data directory (the only module that
imports ``ansible_runner``).

:func:`execute` writes ``spec.private_dir`` (mode 0700)::

    ansible.cfg          empty: ANSIBLE_CONFIG points here, so no ansible.cfg of the current
                         directory, the home directory or /etc can change what runs
    env/envvars          the ANSIBLE_* settings, fixed by us (0600)
    env/extravars        the run's variables and the become/WinRM passwords (0600)
    env/settings         ansible-runner's own settings (how often it polls for cancellation)
    inventory/hosts.json the run's inventory (0600)
    project/             a copy of the playbooks folder: the run uses the files as they were
                         when it started, whatever happens to the folder meanwhile
    guard.pid            the pid of ansible-playbook's guard (:mod:`.procguard`)
    home/, tmp/          ANSIBLE_HOME and the local temporary files, inside the directory
    artifacts/run/       what ansible-runner writes (its stdout file, the command)

and runs ``ansible-playbook`` there, streaming each event to ``on_event`` as it comes. The
directory is deleted at the end unless ``spec.keep_dir`` (its events are in the database).

The controller's SSH key is named by ``ANSIBLE_PRIVATE_KEY_FILE`` rather than copied into
``env/ssh_key``: ansible-runner would start an ``ssh-agent`` for it (one more process that can
outlive us, and an agent other processes could talk to), and a copy is one more place a secret
lies on disk.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from controller.remediation.model import (
    HOST_NAME,
    HostStats,
    RemediationError,
    RunEvent,
    RunOutcome,
    RunSpec,
)
from controller.remediation.run_events import first_line, play_recap, to_event

log = logging.getLogger(__name__)

#: Environment variables of the worker that ansible-playbook may see; every other one (secrets
#: in GOVGUARD_*, a stray ANSIBLE_* or SSH_AUTH_SOCK) stays out.
_INHERITED: Final = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ"}
)
#: The variables of ``spec.passwords`` and what Ansible calls them. WinRM and PSRP have their own
#: names: ``ansible_password`` would also reach SSH hosts (and make Ansible want sshpass).
_PASSWORD_VARS: Final = {
    "become_password": ("ansible_become_password",),
    "winrm_password": ("ansible_winrm_password", "ansible_psrp_password"),
}


#: ``procguard.py`` runs ansible-playbook so that nothing of it outlives the run, the worker or
#: a stop request (see there). It is started as a script, by path, with only the standard library.
PROCGUARD: Final = Path(__file__).with_name("procguard.py")
#: After asking the guard to stop (cancel, timeout), how long before ansible-runner kills the
#: guard's process group itself (a guard that does not stop: never seen, but never hang).
STOP_GRACE_S: Final = 30.0


def execute(
    spec: RunSpec,
    on_event: Callable[[RunEvent], None],
    should_cancel: Callable[[], bool],
    *,
    poll_s: float = 1.0,
    ansible_playbook: Path | None = None,
) -> RunOutcome:
    """Run ``spec`` to its end; ``on_event`` gets each event as it happens, ``should_cancel``
    is polled and a True stops the run (``cancelled``); ``spec.timeout_s`` ends it ``failed``.

    ``poll_s``: how often ``should_cancel`` is asked (and the timeout checked) while the
    playbook prints nothing. Raises :class:`RemediationError` when the run cannot even start
    (no playbook, a bad host name, no private directory); nothing ran then.
    """
    binary = ansible_playbook or _ansible_playbook()
    _check(spec)
    _prepare(spec)
    try:
        return _run(spec, on_event, should_cancel, poll_s=poll_s, binary=binary)
    finally:
        _clean(spec)


def _ansible_playbook() -> Path:
    # Next to our interpreter first: the worker may run from a virtualenv not on PATH.
    beside = Path(sys.executable).parent / "ansible-playbook"
    if beside.is_file():
        return beside
    found = shutil.which("ansible-playbook")
    if found is None:
        raise RemediationError("ansible-playbook not found (install govguard with its ansible)")
    return Path(found)


def _check(spec: RunSpec) -> None:
    if not spec.private_dir.is_absolute():
        raise RemediationError(f"run {spec.run_id}: the private directory must be absolute")
    if not spec.playbook.is_file():
        raise RemediationError(f"run {spec.run_id}: no playbook at {spec.playbook}")
    if not spec.hosts:
        raise RemediationError(f"run {spec.run_id}: no hosts to run on")
    for host in spec.hosts:
        if not HOST_NAME.fullmatch(host):
            raise RemediationError(f"run {spec.run_id}: {host!r} is not an inventory host name")
    if spec.ssh_key is not None and not spec.ssh_key.is_file():
        raise RemediationError(f"run {spec.run_id}: no SSH key at {spec.ssh_key}")
    unknown = set(spec.passwords) - set(_PASSWORD_VARS)
    if unknown:
        raise RemediationError(f"run {spec.run_id}: unknown password {sorted(unknown)[0]!r}")


def _write(path: Path, text: str) -> None:
    """Create ``path`` readable by us only (before anything is written into it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _prepare(spec: RunSpec) -> None:
    root = spec.private_dir
    root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if root.exists():
        # Left by a worker that died mid-run (runs are never relaunched, ids never reused).
        shutil.rmtree(root)
    root.mkdir(mode=0o700)
    for sub in ("env", "inventory", "home", "tmp"):
        (root / sub).mkdir(mode=0o700)
    shutil.copytree(
        spec.playbook.parent,
        root / "project",
        ignore=shutil.ignore_patterns(".*", "__pycache__", "*.retry"),
    )
    _write(root / "ansible.cfg", "# generated for one govguard run; settings: env/envvars\n")
    _write(root / "inventory" / "hosts.json", json.dumps(spec.inventory, indent=2))
    _write(root / "env" / "extravars", json.dumps(_extravars(spec), indent=2))
    _write(root / "env" / "envvars", json.dumps(_envvars(spec), indent=2))
    _write(root / "env" / "settings", json.dumps({"suppress_ansible_output": True}))


def _extravars(spec: RunSpec) -> dict[str, Any]:
    extra = dict(spec.extra_vars)
    for key, value in spec.passwords.items():
        for name in _PASSWORD_VARS[key]:
            extra[name] = value
    return extra


def _envvars(spec: RunSpec) -> dict[str, str]:
    root = spec.private_dir
    known_hosts = spec.known_hosts or Path(os.devnull)
    ssh_args = [
        "-F", os.devnull,  # no ~/.ssh/config or /etc/ssh/ssh_config
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-o", f"GlobalKnownHostsFile={os.devnull}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
    ]  # fmt: skip
    env = {
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_HOME": str(root / "home"),
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"),
        "TMPDIR": str(root / "tmp"),
        "ANSIBLE_ROLES_PATH": str(root / "project" / "roles"),
        # Our inventory is one JSON file; no inventory script may run.
        "ANSIBLE_INVENTORY_ENABLED": "yaml",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        # One SSH session per task instead of three or four (mkdir, copy, run, clean up): the
        # module goes through the session's stdin, and no copy of it is left on the host.
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": shlex.join(ssh_args),
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        # No callback but ansible-runner's event one: ANSIBLE_CALLBACKS_ENABLED stays unset (its
        # default is none; an empty value is an error) and no config file or inherited
        # variable can set it.
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "False",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_SYSTEM_WARNINGS": "False",
    }
    if spec.ssh_key is not None:
        env["ANSIBLE_PRIVATE_KEY_FILE"] = str(spec.ssh_key)
    return env


def _clean(spec: RunSpec) -> None:
    root = spec.private_dir
    if not spec.keep_dir:
        shutil.rmtree(root, ignore_errors=True)
        return
    # Kept for debugging: without the passwords all the same.
    extravars = root / "env" / "extravars"
    if extravars.exists():
        _write(extravars, json.dumps(dict(spec.extra_vars), indent=2))


class _Events:
    """Turns ansible-runner's events into :class:`RunEvent`; keeps the stats and the last
    error line for the outcome."""

    def __init__(self, spec: RunSpec, on_event: Callable[[RunEvent], None]) -> None:
        self._spec = spec
        self._on_event = on_event
        self.stats: dict[str, HostStats] = {}
        self.last_error: str | None = None
        self.dropped = 0

    def __call__(self, data: Mapping[str, Any]) -> bool:
        try:
            event = to_event(data)
            if event.event == "playbook_on_stats":
                self.stats = play_recap(data.get("event_data") or {})
            elif event.failed or event.event in ("verbose", "error"):
                line = first_line(event.stdout)
                if line:
                    self.last_error = line
            self._on_event(event)
        except Exception:
            # A lost log line must not stop a playbook half-way through changing a host.
            self.dropped += 1
            log.exception("run %s: event %s not stored", self._spec.run_id, data.get("counter"))
        # ansible-runner's own copy of each event (artifacts/run/job_events) only for debugging.
        return self._spec.keep_dir


class _Stopper:
    """ansible-runner's cancel callback, polled every ``poll_s``: on a cancel request or at the
    timeout it asks the guard to stop the playbook (SIGTERM: ansible-playbook stops its workers,
    then the guard kills what is left) and lets the run end by itself. ansible-runner's own
    cancel and timeout would SIGKILL the first process group only and leave ansible's workers
    (each in a session of its own) running."""

    def __init__(self, spec: RunSpec, should_cancel: Callable[[], bool]) -> None:
        self._spec = spec
        self._should_cancel = should_cancel
        self._started = time.monotonic()
        self._asked_at: float | None = None
        #: ``canceled`` or ``timeout`` (ansible-runner's words) once asked.
        self.reason: str | None = None

    def __call__(self) -> bool:
        if self.reason is None:
            if time.monotonic() - self._started > self._spec.timeout_s:
                self.reason = "timeout"
            elif self._cancel_requested():
                self.reason = "canceled"
            else:
                return False
        if self._asked_at is None and self._signal_guard():
            self._asked_at = time.monotonic()
        since = self._asked_at if self._asked_at is not None else self._started
        # The last resort: True makes ansible-runner SIGKILL the guard's process group.
        return time.monotonic() - since > STOP_GRACE_S

    def _cancel_requested(self) -> bool:
        try:
            return bool(self._should_cancel())
        except Exception:
            # Raising here would make ansible-runner leave its loop with the playbook still
            # running; the timeout still bounds the run.
            log.exception("run %s: could not tell whether it was cancelled", self._spec.run_id)
            return False

    def _signal_guard(self) -> bool:
        try:
            pid = int((self._spec.private_dir / "guard.pid").read_text(encoding="ascii"))
        except (OSError, ValueError):
            return False  # not started yet: next poll
        if _parent_of(pid) != os.getpid():
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        log.info("run %s: stopping ansible-playbook (%s)", self._spec.run_id, self.reason)
        return True


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


def _run(
    spec: RunSpec,
    on_event: Callable[[RunEvent], None],
    should_cancel: Callable[[], bool],
    *,
    poll_s: float,
    binary: Path,
) -> RunOutcome:
    import ansible_runner
    from ansible_runner.utils import get_callback_dir

    events = _Events(spec, on_event)
    stopper = _Stopper(spec, should_cancel)
    cmdline = ["--diff"] + (["--check"] if spec.mode == "check" else [])
    runner = ansible_runner.interface.init_runner(
        private_data_dir=str(spec.private_dir),
        ident="run",
        playbook=spec.playbook.name,
        inventory=str(spec.private_dir / "inventory"),
        limit=",".join(spec.hosts),
        cmdline=shlex.join(cmdline),
        settings={"pexpect_timeout": poll_s},
        quiet=True,
        suppress_env_files=True,
        event_handler=events,
        cancel_callback=stopper,
    )
    config = runner.config
    config.env = _clean_env(config.env, binary, get_callback_dir())
    if config.command[:1] != ["ansible-playbook"]:
        raise RemediationError(f"run {spec.run_id}: unexpected command {config.command[:1]}")
    pid_file = spec.private_dir / "guard.pid"
    guard = [sys.executable, "-I", str(PROCGUARD), str(os.getpid()), str(pid_file)]
    config.command = [*guard, str(binary), *config.command[1:]]
    failure: list[BaseException] = []

    def target() -> None:
        try:
            runner.run()
        except BaseException as exc:  # reported below; the guard kills what is left
            failure.append(exc)

    # Its own thread: the guard's parent-death signal follows the thread that started it, so
    # however runner.run() ends, ansible-playbook does not outlive it.
    thread = threading.Thread(target=target, name=f"ansible-run-{spec.run_id}", daemon=True)
    thread.start()
    thread.join()
    if failure:
        log.error("run %s: ansible-runner failed: %s", spec.run_id, failure[0])
        return RunOutcome("failed", "error", None, events.stats, f"ansible-runner: {failure[0]}")
    status = str(runner.status)
    if status != "successful" and stopper.reason is not None:
        status = stopper.reason  # we stopped it: ansible-runner only saw it exit 143
    return _outcome(spec, status, runner.rc, events)


def _clean_env(env: Mapping[str, str], binary: Path, callback_dir: str) -> dict[str, str]:
    """ansible-runner starts from our whole environment; keep what it and we set, and only
    :data:`_INHERITED` of the rest."""
    clean = {
        key: value
        for key, value in env.items()
        if key in _INHERITED or os.environ.get(key) != value
    }
    clean.pop("ORIGINAL_STDOUT_CALLBACK", None)
    clean.pop("SSH_AUTH_SOCK", None)
    # Only the event callback ansible-runner needs, not one an inherited variable added.
    clean["ANSIBLE_CALLBACK_PLUGINS"] = callback_dir
    clean["PATH"] = os.pathsep.join(filter(None, (str(binary.parent), env.get("PATH"))))
    return clean


def _outcome(spec: RunSpec, status: str, rc: int | None, events: _Events) -> RunOutcome:
    stats = events.stats
    if status == "canceled":
        return RunOutcome("cancelled", status, rc, stats, "cancelled while running")
    if status == "timeout":
        return RunOutcome("failed", status, rc, stats, f"timed out after {spec.timeout_s} s")
    if status == "successful":
        missed = [host for host in spec.hosts if host not in stats]
        if not missed:
            return RunOutcome("succeeded", status, rc, stats)
        # A hosts pattern that excluded a host (`all:!classified`): nothing ran there.
        return RunOutcome(
            "failed", status, rc, stats, f"the playbook did not run on {', '.join(missed)}"
        )
    unreachable = sorted(host for host, s in stats.items() if s.unreachable)
    failed = sorted(host for host, s in stats.items() if s.failed)
    parts = []
    if unreachable:
        parts.append(f"unreachable: {', '.join(unreachable)}")
    if failed:
        parts.append(f"failed: {', '.join(failed)}")
    if not parts:
        parts.append(f"ansible-playbook exited with {rc}")
        if events.last_error:
            parts.append(events.last_error)
    return RunOutcome("failed", status, rc, stats, "; ".join(parts))
