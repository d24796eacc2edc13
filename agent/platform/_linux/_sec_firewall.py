"""Host firewall on Linux: ufw and firewalld configuration, and the kernel ruleset (root only).

"Enabled" is decided on the kernel ruleset when it can be read (root): a table of family inet,
ip or ip6 with an input-hook chain whose policy is drop, or that holds rules, filters inbound
traffic. A ufw.conf saying ENABLED=yes with no rules loaded is therefore reported as off. Without
root the tools' own configuration is the best evidence; when neither says anything the fact is
unknown, never "off".
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from agent.errors import FactUnavailable
from agent.platform._common import have_command, read_optional, run
from agent.platform._linux import _sec_common as c
from agent.report.security import Firewall, FirewallProfile

log = logging.getLogger(__name__)

Inbound = Literal["allow", "block"] | None


def _ufw() -> FirewallProfile | None:
    if not (c.exists("/usr/sbin/ufw") or c.exists("/etc/ufw/ufw.conf")):
        return None
    conf = c.key_values(["/etc/ufw/ufw.conf"])
    enabled = conf.get("ENABLED", "").lower()
    # ufw(8): ENABLED=yes makes the ufw service load the rules at boot; "ufw enable" writes it.
    state = True if enabled == "yes" else False if enabled == "no" else None
    policy = c.key_values(["/etc/default/ufw"]).get("DEFAULT_INPUT_POLICY", "").upper()
    inbound: Inbound = "block" if policy in ("DROP", "REJECT") else None
    if policy == "ACCEPT":
        inbound = "allow"
    return FirewallProfile(name="ufw", enabled=state, default_inbound=inbound if state else None)


def _firewalld() -> FirewallProfile | None:
    if not (c.exists("/usr/sbin/firewalld") or c.exists("/etc/firewalld/firewalld.conf")):
        return None
    state = c.running("firewalld")
    inbound: Inbound = None
    if state:
        zone = c.key_values(["/etc/firewalld/firewalld.conf"]).get("DefaultZone", "public")
        xml = read_optional(f"/etc/firewalld/zones/{zone}.xml") or read_optional(
            f"/usr/lib/firewalld/zones/{zone}.xml"
        )
        target = re.search(r'<zone[^>]*\btarget="([^"]+)"', xml or "")
        # firewalld.zone(5): the "default" target rejects what no service or port allows.
        value = target.group(1) if target else ("default" if xml is not None else None)
        if value in ("default", "DROP", "%%REJECT%%", "REJECT"):
            inbound = "block"
        elif value == "ACCEPT":
            inbound = "allow"
    return FirewallProfile(name="firewalld", enabled=state, default_inbound=inbound)


def _nft_profile(text: str) -> FirewallProfile:
    """Evaluate ``nft -j list ruleset`` (libnftables-json(5))."""
    try:
        items = json.loads(text).get("nftables", [])
    except (ValueError, AttributeError) as exc:
        raise FactUnavailable("nft printed something that is not its JSON ruleset") from exc
    inputs: dict[tuple[str, str, str], str] = {}
    rules: dict[tuple[str, str, str], int] = {}
    # Objects of another shape (a newer schema, garbage) are skipped, never a crash.
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        chain: dict[str, Any] | None = c_ if isinstance(c_ := item.get("chain"), dict) else None
        rule: dict[str, Any] | None = r_ if isinstance(r_ := item.get("rule"), dict) else None
        if chain and chain.get("hook") == "input" and chain.get("family") in ("inet", "ip", "ip6"):
            key = (chain["family"], chain.get("table", ""), chain.get("name", ""))
            inputs[key] = str(chain.get("policy", "accept"))
        elif rule:
            key = (rule.get("family", ""), rule.get("table", ""), rule.get("chain", ""))
            rules[key] = rules.get(key, 0) + 1
    drops = any(policy == "drop" for policy in inputs.values())
    filtered = drops or any(rules.get(key, 0) > 0 for key in inputs)
    return FirewallProfile(
        name="nftables", enabled=filtered, default_inbound="block" if drops else "allow"
    )


def _iptables_profile(text: str) -> FirewallProfile:
    """Evaluate ``iptables-save`` output (iptables-save(8)): the filter table's INPUT chain."""
    table = ""
    policy = None
    rule_count = 0
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "filter" and line.startswith(":INPUT ") and len(line.split()) > 1:
            policy = line.split()[1]
        elif table == "filter" and line.startswith("-A INPUT "):
            rule_count += 1
    if policy is None:
        raise FactUnavailable("iptables-save printed no filter table")
    drops = policy == "DROP"
    return FirewallProfile(
        name="iptables",
        enabled=drops or rule_count > 0,
        default_inbound="block" if drops else "allow",
    )


def _kernel_ruleset() -> tuple[FirewallProfile | None, str | None]:
    """The loaded ruleset as a profile, or ``(None, reason)`` when it cannot be read."""
    if not c.privileged():
        return None, "the kernel ruleset is readable only by root (run as root)"
    if have_command("nft"):
        try:
            # One fork: iptables-nft rules live in nftables tables, so this covers them too.
            return _nft_profile(run(["nft", "-j", "list", "ruleset"])), None
        except FactUnavailable as exc:
            log.debug("nft ruleset unavailable: %s", exc.reason)
            reason = exc.reason
    else:
        reason = "nft is not installed"
    # Legacy iptables (x_tables): tables appear here once a rule or policy was loaded.
    legacy = read_optional("/proc/net/ip_tables_names")
    if legacy is not None and "filter" in legacy.split() and have_command("iptables-save"):
        try:
            return _iptables_profile(run(["iptables-save", "-t", "filter"])), None
        except FactUnavailable as exc:
            reason = exc.reason
    elif legacy is not None and reason == "nft is not installed":
        # No legacy x_tables says nothing about nftables: iptables-nft and firewalld load their
        # rules there, and only nft(8) (or netlink) can list them. Unknown, not "off".
        reason = (
            "nft is not installed and no legacy iptables table is loaded, so nftables rules "
            "(iptables-nft, firewalld) cannot be read"
        )
    return None, reason


def firewall() -> Firewall:
    """Firewall state from ufw/firewalld configuration and, as root, the loaded ruleset."""
    tools = [p for p in (_ufw(), _firewalld()) if p is not None]
    kernel, reason = _kernel_ruleset()
    profiles = [*tools, *([kernel] if kernel else [])]
    configured = next((p for p in tools if p.enabled), None)
    product: str | None
    if kernel is not None:
        enabled: bool | None = kernel.enabled
        if enabled and configured is not None:
            product = configured.name
        else:
            product = kernel.name if enabled else (tools[0].name if tools else None)
    elif configured is not None:
        enabled, product = True, configured.name
    else:
        state = (
            f"{', '.join(p.name for p in tools)} not enabled" if tools else "no ufw or firewalld"
        )
        raise FactUnavailable(f"{state}, and {reason}")
    return Firewall(enabled=enabled, product=product, profiles=profiles)
