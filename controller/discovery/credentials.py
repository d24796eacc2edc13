"""SNMP secrets: ``<data_dir>/secrets/snmp.yaml`` (mode 0600) and the environment.

The organisation file only names credentials (``snmp_credentials``); their secrets never enter
the database. The file maps each name to its secret::

    snmp-xa-v2c:
      version: v2c
      community: "..."
    snmp-huyen-v3:
      version: v3
      user: govguard
      auth_protocol: SHA        # MD5, SHA, SHA224, SHA256, SHA384, SHA512
      auth_key: "..."           # at least 8 characters
      priv_protocol: AES        # AES (AES-128), AES192, AES256, AES192C, AES256C, DES
      priv_key: "..."

``GOVGUARD_SNMP_<NAME>_<FIELD>`` (``<NAME>`` the credential's name in upper case with every other
character than letters and digits as ``_``; ``<FIELD>`` one of ``VERSION``, ``COMMUNITY``,
``USER``, ``AUTH_PROTOCOL``, ``AUTH_KEY``, ``PRIV_PROTOCOL``, ``PRIV_KEY``) overrides a field of a
credential of the file, or defines one the file does not have (its name is then the lower-case
``<NAME>`` with ``_`` as ``-``). No message of this module ever contains a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "AUTH_PROTOCOLS",
    "PRIV_PROTOCOLS",
    "Credential",
    "CredentialError",
    "credentials_path",
    "env_name",
    "load_credentials",
]

#: Authentication protocols a v3 credential may name (RFC 3414, RFC 7860).
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
#: Privacy protocols: AES is AES-128 (RFC 3826); AES192/AES256 the key extension of
#: draft-blumenthal-aes-usm-04 (net-snmp's); AES192C/AES256C the one of Cisco (Reeder).
PRIV_PROTOCOLS = ("AES", "AES192", "AES256", "AES192C", "AES256C", "DES")
_FIELDS = ("version", "community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
_ENV = re.compile(r"^GOVGUARD_SNMP_([A-Z0-9_]+?)_(" + "|".join(f.upper() for f in _FIELDS) + ")$")
# Other spellings operators use for the same protocols.
_ALIASES = {"SHA1": "SHA", "AES128": "AES"}
# RFC 3414 section 11.2: a passphrase shorter than 8 octets is refused by agents.
_MIN_KEY = 8


class CredentialError(Exception):
    """The SNMP secrets cannot be used: the message says which file, credential and field."""


@dataclass(frozen=True)
class Credential:
    """One named SNMP credential: a v2c community, or a v3 authPriv user with its keys.

    The secrets are left out of ``repr`` so that a logged credential shows no key.
    """

    name: str
    version: Literal["v2c", "v3"]
    community: str | None = field(default=None, repr=False)
    user: str | None = None
    auth_protocol: str = "SHA"
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str = "AES"
    priv_key: str | None = field(default=None, repr=False)

    def problem(self) -> str | None:
        """Why this credential cannot be used, or None when it can."""
        if self.version == "v2c":
            return None if self.community else "a v2c credential needs a community"
        if not self.user:
            return "a v3 credential needs a user"
        if self.auth_protocol not in AUTH_PROTOCOLS:
            return f"auth_protocol {self.auth_protocol!r} is not one of {', '.join(AUTH_PROTOCOLS)}"
        if self.priv_protocol not in PRIV_PROTOCOLS:
            return f"priv_protocol {self.priv_protocol!r} is not one of {', '.join(PRIV_PROTOCOLS)}"
        for what, key in (("auth_key", self.auth_key), ("priv_key", self.priv_key)):
            if not key:
                return f"a v3 credential needs {what} (authPriv only)"
            if len(key) < _MIN_KEY:
                return f"{what} is shorter than {_MIN_KEY} characters"
        return None


def credentials_path(data_dir: Path) -> Path:
    """Where the SNMP secrets file of ``data_dir`` is."""
    return data_dir / "secrets" / "snmp.yaml"


def env_name(name: str) -> str:
    """The ``<NAME>`` part of the environment variables of credential ``name``."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def load_credentials(data_dir: Path) -> dict[str, Credential]:
    """Every SNMP credential of ``<data_dir>/secrets/snmp.yaml`` and the environment, by name.

    A missing file is no error (credentials may all come from the environment); a file that
    other users may read, that is not YAML, or a credential that cannot be used raises
    :class:`CredentialError`.
    """
    path = credentials_path(data_dir)
    raw = _read_file(path)
    where = str(path)
    fields: dict[str, dict[str, Any]] = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise CredentialError(f"{where}: {name}: expected a mapping of fields")
        unknown = sorted(set(map(str, entry)) - set(_FIELDS))
        if unknown:
            raise CredentialError(
                f"{where}: {name}: unknown field {unknown[0]!r} (known: {', '.join(_FIELDS)})"
            )
        fields[str(name)] = {str(k): v for k, v in entry.items()}
    by_env = {env_name(name): name for name in fields}
    for variable, value in os.environ.items():
        match = _ENV.match(variable)
        if match is None:
            continue
        env_key, key = match.group(1), match.group(2).lower()
        name = by_env.get(env_key) or env_key.lower().replace("_", "-")
        by_env.setdefault(env_key, name)
        fields.setdefault(name, {})[key] = value
    return {name: _credential(name, values, where) for name, values in sorted(fields.items())}


def _read_file(path: Path) -> Mapping[Any, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if os.name == "posix" and mode & 0o077:
        raise CredentialError(
            f"{path}: other users may read it (mode {mode & 0o777:04o}); run chmod 600 {path}"
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise CredentialError(f"{path}:{line} not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise CredentialError(f"{path}: expected a mapping of credential names to fields")
    return data


def _protocol(name: str) -> str:
    """``sha-256``, ``SHA256``, ``aes128`` and the like in the form of the protocol lists."""
    key = name.upper().replace("-", "").replace("_", "")
    return _ALIASES.get(key, key)


def _credential(name: str, values: Mapping[str, Any], where: str) -> Credential:
    for key, value in values.items():
        if value is not None and not isinstance(value, str | int):
            raise CredentialError(f"{where}: {name}: {key} must be a string")
    text = {k: str(v) for k, v in values.items() if v is not None}
    version = text.pop("version", None)
    if version is None:
        version = "v3" if "user" in text else "v2c"
    if version not in ("v2c", "v3"):
        raise CredentialError(f"{where}: {name}: version {version!r} is not v2c or v3")
    credential = Credential(
        name=name,
        version="v2c" if version == "v2c" else "v3",
        community=text.get("community"),
        user=text.get("user"),
        auth_protocol=_protocol(text.get("auth_protocol", "SHA")),
        auth_key=text.get("auth_key"),
        priv_protocol=_protocol(text.get("priv_protocol", "AES")),
        priv_key=text.get("priv_key"),
    )
    problem = credential.problem()
    if problem is not None:
        raise CredentialError(f"{where}: {name}: {problem}")
    return credential
