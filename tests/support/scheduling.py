"""How ``make test`` shares the suite between pytest-xdist workers (``-n 2 --dist loadgroup``).

Tests go to whichever worker is free, one at a time, except groups whose tests share an
expensive package- or module-scoped fixture: each group goes whole to one worker, so the fixture
is made once rather than once per worker, and it runs early (xdist hands out the largest work
units first).

- ``tests/e2e/``: one real controller (:mod:`tests.e2e.world`) and one chromium for the package;
  its screenshots folder is emptied at the start of its session.
- the integration modules in :data:`WHOLE_MODULES`: a real ``govguard-agent once`` run, or a CA,
  shared by the module's tests; and ``tests/e2e/test_demo.py``, whose two whole demos (a
  controller, a worker, snmpsim and ~350 simulated PCs each) run one after the other on one
  worker, apart from the browser suite's controller.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by renaming the tests' node ids, which
pytest 9 no longer allows (the rename is silently lost and every test lands on its own); this
scheduler groups by path instead. Tests that must not run at the same time on two workers do
not rely on it: they take per-worker names and addresses (:func:`tests.support.netns.worker_index`,
throw-away database names, ports picked by the kernel).
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

__all__ = ["WHOLE_MODULES", "GroupedLoadScheduling", "work_unit"]

#: The browser suite: one package-scoped controller and browser.
E2E = "tests/e2e/"
#: Modules whose tests share an expensive module-scoped fixture.
WHOLE_MODULES = frozenset(
    {
        "tests/integration/test_agent_once.py",  # one real `govguard-agent once` run
        "tests/integration/test_agent_unprivileged.py",  # the same, as root and as nobody
        "tests/integration/test_netns_scenarios.py",  # one CA for every namespace scenario
        "tests/integration/test_snmp_snmpsim.py",  # one snmpsim for the module
        "tests/integration/test_snmp_snmpd.py",  # one snmpd for the module
        "tests/integration/test_snmp_faults.py",  # one snmpsim of faulty agents
        "tests/integration/test_ssh_collect.py",  # one sshd on a loopback port
        "tests/integration/test_playbooks.py",  # one namespace test host for the playbooks
        "tests/e2e/test_demo.py",  # two whole demos: never at once, nor in the browser group
    }
)


def work_unit(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to: its group, or the test itself."""
    path = nodeid.split("::", 1)[0]
    if path in WHOLE_MODULES:
        return path
    if path.startswith(E2E):
        return E2E
    return nodeid


class GroupedLoadScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """xdist's scope scheduling with :func:`work_unit` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)
