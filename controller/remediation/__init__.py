"""Ansible remediation: fix a failed rule on hosts, previewed, approved, run and verified.

* :mod:`.model` — the shapes the parts exchange (run specification, outcome, events) and the
  fixed names (playbook and inventory host patterns, the isolation playbook).
* :mod:`.inventory` — Ansible inventories (rows read by :mod:`controller.store.ansible_hosts`):
  the whole district (``govguard inventory ansible``, ``inventory/govguard_inventory.py``) and
  one run's hosts.
* :mod:`.targets` — resolving requested hosts (agent ids, asset ids, inventory names) and the
  safety checks made before any run exists (classified hosts, addresses, revoked agents).
* :mod:`.runner` — one ansible-runner execution in its own private data directory (the only
  module importing ``ansible_runner``).
* :mod:`.run_events` — ansible-runner events as stored lines (ANSI removed, unified diffs).
* :mod:`.procguard` — the guard process that keeps every process of a run in one tree, killed
  whole on cancel, timeout or the worker's death.
* :mod:`.worker` — the ``govguard worker`` thread: claims queued runs (at most
  ``remediation.max_concurrent``), streams their events into the database, cancels, times out,
  marks runs of a dead worker ``interrupted``.
* :mod:`.workflow` — jobs: request (preview in check mode), approve/reject, queue offline
  hosts, verify from the hosts' next reports, automatic remediation with a rate limit, audit.
* :mod:`.verify` — the periodic part of the workflow: offline hosts coming back, verification
  from the hosts' next reports, automatic remediation.
* :mod:`.secrets` — the become and WinRM passwords (``<data_dir>/secrets/ansible.yaml``).
"""
