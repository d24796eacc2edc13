"""What every dashboard page shares: the menu, the caller's box, flash messages, errors.

Flash messages travel as a code in the redirect's query string (``?done=acknowledged``), never
as text: a link cannot make the dashboard show words of an attacker's choosing, and no state is
kept between requests (any controller process can serve the next page).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from controller.auth import Permission
from controller.web.i18n import N_, Translator
from controller.web.security import Caller, reading
from controller.web.templating import render

#: The menu: path, label (msgid) and the permission that shows it.
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/", N_("Overview"), Permission.READ),
    ("/units", N_("Units"), Permission.READ),
    ("/hosts", N_("Computers"), Permission.READ),
    ("/network", N_("Network"), Permission.READ),
    ("/findings", N_("Findings"), Permission.READ),
    ("/remediation", N_("Remediation"), Permission.READ),
    ("/policies", N_("Policies"), Permission.READ),
    ("/enrollment", N_("Enrollment"), Permission.READ),
    ("/bundles", N_("Offline bundles"), Permission.READ),
    ("/reports", N_("Reports"), Permission.READ),
    ("/users", N_("Users"), Permission.USERS_MANAGE),
    ("/audit", N_("Audit log"), Permission.AUDIT_READ),
    ("/settings", N_("Settings"), Permission.READ),
)


def _messages(t: Translator) -> Mapping[str, str]:
    """Flash texts by code; pages add their own codes here so every text is translated."""
    _ = t.gettext
    return {
        "acknowledged": _("The finding was acknowledged."),
        "exempted": _("The finding was exempted."),
        "bulk_done": _("The selected findings were updated."),
        "approved": _("The agent was approved."),
        "revoked": _("The agent was revoked."),
        "token_revoked": _("The enrollment token was revoked."),
        "rule_saved": _("The rule's settings were saved."),
        "user_added": _("The account was created."),
        "user_disabled": _("The account was disabled; its sessions ended."),
        "user_enabled": _("The account was enabled."),
        "password_changed": _("The password was changed."),
        "language_changed": _("The language was changed."),
        "nothing_selected": _("Nothing was selected."),
        "schedule_added": _("The schedule was added."),
        "schedule_disabled": _("The schedule was paused; it sends nothing until resumed."),
        "schedule_enabled": _("The schedule was resumed."),
        "schedule_removed": _("The schedule was removed."),
        "poll_requested": _(
            "A polling round was requested: the worker (govguard worker) runs it within a "
            "minute or so. Reload this page to see the results."
        ),
        "port_approved": _("The port action was approved; the worker sends it to the switch next."),
        "port_rejected": _("The port action was rejected."),
        "port_undone": _(
            "The port will be switched back on; the worker sends it to the switch next."
        ),
        "port_requested": _("The port shutdown was requested; it waits for an approval."),
        "remediation_requested": _(
            "The remediation was requested: the worker (govguard worker) runs its preview "
            "first; this page follows it."
        ),
        "remediation_approved": _(
            "The remediation was approved; the worker runs it on the computers that are online."
        ),
        "remediation_rejected": _("The remediation was rejected; nothing was changed."),
        "remediation_cancelled": _("The remediation was cancelled."),
    }


#: The words pages show for stored codes, by group (msgids, translated when a page renders).
NAMES: Mapping[str, Mapping[str, str]] = {
    "role_names": {
        "admin": N_("administrator"),
        "operator": N_("operator"),
        "auditor": N_("auditor"),
    },
    "severity_names": {
        "critical": N_("critical"),
        "high": N_("high"),
        "medium": N_("medium"),
        "low": N_("low"),
        "info": N_("info"),
    },
    # Finding statuses, and the findings page's status filters.
    "finding_status_names": {
        "open": N_("open"),
        "acknowledged": N_("acknowledged"),
        "exempted": N_("exempted"),
        "resolved": N_("resolved"),
        "live": N_("open or acknowledged"),
        "all": N_("all"),
    },
    "classified_names": {
        "sighted": N_("seen on the network"),
        "overdue": N_("attestation overdue"),
        "never": N_("never attested"),
        "attested": N_("attested"),
    },
    "state_names": {
        "online": N_("online"),
        "stale": N_("stale"),
        "never": N_("never seen"),
    },
    "outcome_names": {
        "pass": N_("pass"),
        "fail": N_("fail"),
        "error": N_("error"),
        "not_applicable": N_("not applicable"),
    },
    "agent_status_names": {
        "active": N_("active"),
        "pending": N_("pending approval"),
        "revoked": N_("revoked"),
    },
    # The Network page: a device's last poll, why a port is an uplink, port shutdowns.
    "poll_status_names": {
        "ok": N_("answered"),
        "error": N_("failed"),
        "never": N_("never polled"),
    },
    "uplink_reason_names": {
        "lldp": N_("a switch or router is the LLDP neighbour"),
        "macs": N_("many MAC addresses"),
        "device": N_("a network device is behind it"),
    },
    "port_action_names": {
        "down": N_("shut down"),
        "up": N_("bring up again"),
    },
    "port_action_state_names": {
        "pending": N_("waiting for approval"),
        "approved": N_("approved, waiting for the worker"),
        "applying": N_("being sent to the switch"),
        "applied": N_("applied"),
        "failed": N_("failed"),
        "rejected": N_("rejected"),
    },
    # Remediation jobs (controller.store.models.REMEDIATION_*): stages, hosts, runs.
    "job_status_names": {
        "previewing": N_("previewing"),
        "awaiting_approval": N_("awaiting approval"),
        "queued": N_("queued"),
        "running": N_("running"),
        "verifying": N_("verifying"),
        "fixed": N_("fixed"),
        "not_fixed": N_("not fixed"),
        "failed": N_("failed"),
        "cancelled": N_("cancelled"),
        "rejected": N_("rejected"),
        "interrupted": N_("interrupted"),
    },
    "target_state_names": {
        "pending": N_("not run yet"),
        "waiting": N_("waiting for the computer to come online"),
        "running": N_("running"),
        "ok": N_("nothing to change"),
        "changed": N_("changed"),
        "failed": N_("failed"),
        "unreachable": N_("unreachable"),
        "cancelled": N_("cancelled"),
        "expired": N_("offline too long"),
    },
    "verification_names": {
        "waiting": N_("waiting for the next report"),
        "fixed": N_("fixed"),
        "not_fixed": N_("not fixed"),
        "unknown": N_("no report in time"),
    },
    "run_state_names": {
        "queued": N_("queued"),
        "running": N_("running"),
        "succeeded": N_("succeeded"),
        "failed": N_("failed"),
        "interrupted": N_("interrupted"),
        "cancelled": N_("cancelled"),
    },
    "run_mode_names": {
        "check": N_("preview"),
        "apply": N_("apply"),
    },
    "approval_names": {
        "required": N_("approval required"),
        "none": N_("no approval needed"),
    },
    "origin_names": {
        "web": N_("dashboard"),
        "cli": N_("command line"),
        "auto": N_("automatic"),
    },
    # Printer-MIB and HOST-RESOURCES words a printer reports (anything else is shown as sent).
    "printer_status_names": {
        "other": N_("other"),
        "unknown": N_("unknown"),
        "idle": N_("idle"),
        "printing": N_("printing"),
        "warmup": N_("warming up"),
        "running": N_("running"),
        "warning": N_("warning"),
        "testing": N_("testing"),
        "down": N_("down"),
    },
    "colour_names": {
        "black": N_("black"),
        "cyan": N_("cyan"),
        "magenta": N_("magenta"),
        "yellow": N_("yellow"),
    },
    "received_names": {
        "full": N_("full inventory"),
        "heartbeat": N_("heartbeat"),
        "bundle": N_("offline bundle"),
    },
}


def names(t: Translator) -> dict[str, dict[str, str]]:
    """Every group of :data:`NAMES` in ``t``'s language (the templates' ``*_names``)."""
    return {
        group: {code: t.gettext(label) for code, label in labels.items()}
        for group, labels in NAMES.items()
    }


def _scope_name(request: Request, caller: Caller) -> str:
    unit_id = caller.principal.unit_id
    if unit_id is None:
        return caller.t.gettext("whole district")
    from controller.store.units import get_unit

    with reading(request) as s:
        unit = get_unit(s, unit_id)
        return unit.name if unit is not None else unit_id


def page(
    request: Request,
    caller: Caller,
    template: str,
    context: Mapping[str, Any],
    *,
    active: str | None = None,
    status: int = 200,
) -> Response:
    """Render a page of the dashboard for ``caller`` with the shared frame."""
    t = caller.t
    flashes: list[tuple[str, str]] = []
    messages = _messages(t)
    code = request.query_params.get("done")
    if code is not None and code in messages:
        flashes.append(("ok", messages[code]))
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        # The answer to a POST (a token just created) has no GET twin at its own path: the
        # language switch returns to the section's list (/enrollment for /enrollment/tokens).
        here = "/" + request.url.path.strip("/").split("/", 1)[0]
    labels = names(t)
    values: dict[str, Any] = {
        "caller": caller,
        "nav": [
            (href, t.gettext(label), needs)
            for href, label, needs in NAV
            if caller.principal.can(needs)
        ],
        "active": active if active is not None else request.url.path,
        **labels,
        # The findings page's status filter shows the same words as the statuses.
        "status_names": labels["finding_status_names"],
        "scope_name": _scope_name(request, caller),
        "here": here,
        "flashes": flashes,
        **context,
    }
    return render(template, t.locale, values, status=status)


def done(path: str, code: str) -> RedirectResponse:
    """Redirect after a successful change (POST → 303 → GET), with its flash code."""
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}done={code}", status_code=303)


def error_page(locale: str, status: int, heading: str, message: str) -> Response:
    """A full error page (403, 404, 400) in the caller's language, without the menu."""
    return render("error.html", locale, {"heading": heading, "message": message}, status=status)
