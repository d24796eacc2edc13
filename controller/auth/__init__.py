"""Who is asking and what they may do: dashboard and API accounts, roles and unit scopes.

Three roles (ARCHITECTURE.md, trust model): an ``auditor`` reads; an ``operator`` also acts on
findings, agents, enrollment tokens and offline bundles of the units in scope; an ``admin``
also manages users, policies and settings. Every account is scoped to a unit subtree
(:mod:`controller.store.scope`); an account without a unit sees the whole district.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controller.store.scope import UnitScope, in_scope


class Permission(StrEnum):
    """One thing a route may need; routes check exactly one."""

    READ = "read"
    FINDINGS_ACT = "findings.act"
    AGENTS_MANAGE = "agents.manage"
    TOKENS_MANAGE = "tokens.manage"
    BUNDLES_IMPORT = "bundles.import"
    POLICIES_MANAGE = "policies.manage"
    USERS_MANAGE = "users.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_READ = "audit.read"
    #: Reports: the scheduled ones are seen by operators, managed by admins; only admins may
    #: put classified computers' locations and host names into a generated copy.
    SCHEDULES_READ = "schedules.read"
    SCHEDULES_MANAGE = "schedules.manage"
    REPORTS_LOCATIONS = "reports.locations"
    #: Switch ports: request, approve, reject and undo a shutdown by SNMP SET (issue 7).
    PORTS_MANAGE = "ports.manage"
    #: Remediation: request a preview, approve/reject, run and cancel Ansible jobs (issue 8).
    REMEDIATE = "remediation.run"


_OPERATOR = frozenset(
    {
        Permission.READ,
        Permission.FINDINGS_ACT,
        Permission.AGENTS_MANAGE,
        Permission.TOKENS_MANAGE,
        Permission.BUNDLES_IMPORT,
        Permission.SCHEDULES_READ,
        Permission.PORTS_MANAGE,
        Permission.REMEDIATE,
    }
)

#: What each role may do. An auditor reads everything in scope, the audit log included.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "auditor": frozenset({Permission.READ, Permission.AUDIT_READ}),
    "operator": _OPERATOR,
    "admin": frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The account behind a request, as the routes see it."""

    user_id: int
    username: str
    role: str
    #: The account's unit (None: the whole district) and the units it sees.
    unit_id: str | None
    scope: UnitScope
    locale: str = "vi"

    def can(self, permission: Permission) -> bool:
        """Whether this account's role grants ``permission``."""
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def sees(self, unit_id: str | None) -> bool:
        """Whether objects of ``unit_id`` are visible to this account."""
        return in_scope(self.scope, unit_id)

    @property
    def actor(self) -> str:
        """How this account is named in the audit log and on findings it acted on."""
        return f"user:{self.username}"
