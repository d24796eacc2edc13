"""The policy set a controller process evaluates with, reloaded when its files change.

Every process checks the files' modification times at most every few seconds, so an operator
who edits ``<data-dir>/policies/overrides.yaml`` sees every process pick it up without a
restart. A set that fails to load is logged once and the last good one stays in use: a typo in
an override must not stop findings for the whole district.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from controller.findings.engine import Evaluator
from controller.policy import SHIPPED_PACKS, PolicyError, PolicySet, load_installed

log = logging.getLogger(__name__)


def _digest(signature: tuple[tuple[str, int, int], ...]) -> str:
    """A digest of the watched files' contents: equal on every controller with the same files."""
    hasher = hashlib.sha256()
    for name, _, _ in signature:
        with contextlib.suppress(OSError):
            hasher.update(Path(name).name.encode() + b"\0" + Path(name).read_bytes() + b"\0")
    return hasher.hexdigest()[:16]


def _signature(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every YAML file under ``paths``."""
    found: list[tuple[str, int, int]] = []
    for root in paths:
        if not root.exists():
            continue
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml"))
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class PolicyCache:
    """The current :class:`Evaluator` of a data directory (None while no set ever loaded).

    ``watch`` are the files and folders whose change triggers a reload (the shipped packs and
    ``<data-dir>/policies/`` by default).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        check_every_s: float = 5.0,
        loader: Callable[[Path], PolicySet] = load_installed,
        watch: list[Path] | None = None,
    ) -> None:
        self._data_dir = data_dir
        self._check_every_s = check_every_s
        self._loader = loader
        self._watch = watch if watch is not None else [SHIPPED_PACKS, data_dir / "policies"]
        self._lock = threading.Lock()
        self._checked_at = -1e9
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._evaluator: Evaluator | None = None
        self.error: str | None = None
        #: Digest of the policy files behind the current evaluator (None before the first load).
        self.digest: str | None = None

    def current(self) -> Evaluator | None:
        """The evaluator of the newest valid policy files."""
        with self._lock:
            if time.monotonic() - self._checked_at < self._check_every_s:
                return self._evaluator
            self._checked_at = time.monotonic()
            signature = _signature(self._watch)
            if signature == self._signature:
                return self._evaluator
            self._signature = signature
            try:
                self._evaluator = Evaluator(self._loader(self._data_dir))
                self.error = None
                self.digest = _digest(signature)
                log.info("policies loaded: %d rules", len(self._evaluator.rules))
            except PolicyError as exc:
                self.error = str(exc)
                log.error("policies not reloaded, the previous ones stay in use: %s", exc)
            return self._evaluator

    def check_now(self) -> None:
        """Look at the files again at the next :meth:`current` call (after this process
        changed them itself, e.g. the dashboard's rule form), not only every ``check_every_s``."""
        with self._lock:
            self._checked_at = -1e9
