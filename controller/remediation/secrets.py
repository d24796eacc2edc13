"""The secrets Ansible needs, from the data directory or the environment (never the database).

``<data_dir>/secrets/ansible.yaml`` (mode 0600, refused otherwise, like the SNMP secrets)::

    become_password: "..."      # sudo/su/doas password of remediation.remote_user
    winrm_user: 'QUANTRI\\govguard'  # the Windows account (default: the inventory's ansible_user)
    winrm_password: "..."

``GOVGUARD_ANSIBLE_BECOME_PASSWORD``, ``GOVGUARD_ANSIBLE_WINRM_USER`` and
``GOVGUARD_ANSIBLE_WINRM_PASSWORD`` override the file. The SSH key and the pinned host keys are
those of ``govguard ssh`` unless ``remediation.key_file`` / ``remediation.known_hosts`` name
others. Only ``govguard worker`` reads this module's values; no message of it holds a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from controller.discovery import ssh_collect
from controller.discovery.credentials import CredentialError
from controller.discovery.credentials import _read_file as read_secrets_file
from controller.remediation.inventory import ACCOUNT
from controller.remediation.model import RemediationError
from controller.settings import Settings

#: The fields of the file and the environment variables that override them.
ENV: Final = {
    "become_password": "GOVGUARD_ANSIBLE_BECOME_PASSWORD",
    "winrm_user": "GOVGUARD_ANSIBLE_WINRM_USER",
    "winrm_password": "GOVGUARD_ANSIBLE_WINRM_PASSWORD",
}


@dataclass(frozen=True)
class AnsibleSecrets:
    """What a run needs besides the inventory; the passwords stay out of ``repr``."""

    key_file: Path
    known_hosts: Path
    become_password: str | None = field(default=None, repr=False)
    winrm_user: str | None = None
    winrm_password: str | None = field(default=None, repr=False)

    def passwords(self) -> dict[str, str]:
        """:attr:`controller.remediation.model.RunSpec.passwords`: the ones that are set."""
        values = {"become_password": self.become_password, "winrm_password": self.winrm_password}
        return {key: value for key, value in values.items() if value}


def secrets_path(data_dir: Path) -> Path:
    """Where the Ansible secrets file of ``data_dir`` is."""
    return data_dir / "secrets" / "ansible.yaml"


def key_file(settings: Settings) -> Path:
    """The SSH private key: ``remediation.key_file``, else ``govguard ssh``'s."""
    return settings.remediation.key_file or ssh_collect.key_file(settings)


def known_hosts(settings: Settings) -> Path:
    """The pinned host keys: ``remediation.known_hosts``, else ``govguard ssh``'s."""
    return settings.remediation.known_hosts or ssh_collect.known_hosts(settings)


def load_secrets(settings: Settings) -> AnsibleSecrets:
    """The secrets of ``settings.data_dir`` and the environment.

    A missing file is no error (everything may come from the environment, or no password be
    needed: key login and passwordless sudo). A file other users may read, that is not YAML,
    or holds an unknown field raises :class:`RemediationError`.
    """
    path = secrets_path(settings.data_dir)
    try:
        raw = read_secrets_file(path)
    except CredentialError as exc:
        raise RemediationError(str(exc)) from None
    unknown = sorted(str(key) for key in raw if key not in ENV)
    if unknown:
        raise RemediationError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(ENV)})")
    values: dict[str, str | None] = {}
    for key, variable in ENV.items():
        value = os.environ.get(variable) or raw.get(key)
        if value is not None and not isinstance(value, str | int):
            raise RemediationError(f"{path}: {key} must be a string")
        values[key] = str(value) if value is not None and value != "" else None
    user = values["winrm_user"]
    if user is not None and not ACCOUNT.fullmatch(user):
        raise RemediationError(
            f"winrm_user {user!r} is not a Windows account (user, DOMAIN\\user or user@domain)"
        )
    return AnsibleSecrets(
        key_file=key_file(settings),
        known_hosts=known_hosts(settings),
        become_password=values["become_password"],
        winrm_user=user,
        winrm_password=values["winrm_password"],
    )
