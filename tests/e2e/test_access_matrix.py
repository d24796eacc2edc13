"""Who may do what, where: a role x unit x route matrix, through the browser and the API.

The tables below are the contract (/work/notes/web-contract.md, ``controller.auth``'s roles):
an auditor reads (the audit log included), an operator also acts on findings, agents, tokens and
bundles, an admin also manages users and policies. An account scoped to commune A gets 404 for
any host, finding or agent of commune B, and never sees one in a list, an export or a search.

Paths are templates filled at run time from the test district (:mod:`tests.e2e.world`):
``{a_host}``/``{b_host}`` agent ids, ``{a_finding}``/``{b_finding}`` finding ids, ``{pending}``
the agent waiting for approval, ``{b_mac}`` a MAC address of commune B, ``{a_job}``/``{b_job}``
remediation jobs on commune A's and commune B's computers.

A refused request must change nothing: each refused action names the stored state it must
leave as it was, read before and after.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.browser import SESSION_COOKIE, TRAP_SCRIPT, ApiClient, Trap
from tests.e2e.world import COMMUNE_A, COMMUNE_B, World

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.integration

#: Accounts of the matrix: the whole-district administrator, three roles scoped to the district
#: unit, two roles scoped to commune A.
ROLE_ACCOUNTS = (
    "admin",
    "huyen-admin",
    "huyen-operator",
    "huyen-auditor",
    "xa-operator",
    "xa-auditor",
)
SCOPED_ACCOUNTS = ("xa-operator", "xa-auditor")
#: The grants each account has: its role's, except that the policy overrides apply to the whole
#: district, so only an administrator without a unit may change them.
ROLES = {
    "admin": "admin",
    "huyen-admin": "unit-admin",
    "huyen-operator": "operator",
    "huyen-auditor": "auditor",
    "xa-operator": "operator",
    "xa-auditor": "auditor",
}

#: What each role may do (controller.auth.ROLE_PERMISSIONS, written out independently).
GRANTS: dict[str, frozenset[str]] = {
    "auditor": frozenset({"read", "audit.read"}),
    "operator": frozenset(
        {
            "read",
            "findings.act",
            "agents.manage",
            "tokens.manage",
            "bundles.import",
            "schedules.read",
            "ports.manage",
            "remediation.run",
        }
    ),
    "admin": frozenset(
        {
            "read",
            "audit.read",
            "findings.act",
            "agents.manage",
            "tokens.manage",
            "bundles.import",
            "policies.manage",
            "users.manage",
            "schedules.read",
            "schedules.manage",
            "reports.locations",
            "ports.manage",
            "remediation.run",
        }
    ),
}
GRANTS["unit-admin"] = GRANTS["admin"] - {"policies.manage"}

MISSING_FINDING = "999999999"
MISSING_AGENT = "0000000000000000"
UNTIL = "2027-06-30"


# --------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Read:
    """A GET of a page or API resource and the permission it needs."""

    path: str
    permission: str = "read"


#: Every GET of the contract (pages and API), with a target every account may see.
READS = (
    Read("/"),
    Read("/units"),
    Read("/hosts"),
    Read("/hosts.csv"),
    Read("/hosts/{a_host}"),
    Read("/findings"),
    Read("/policies"),
    Read("/enrollment"),
    Read("/bundles"),
    Read("/reports"),
    Read("/network"),
    Read("/network/macs"),
    Read("/network/printers"),
    Read("/network/ports"),
    Read("/remediation"),
    Read("/remediation?status=awaiting_approval&rule=ATTT-07"),
    Read("/remediation/{a_job}"),
    Read("/remediation/{a_job}/log?after=0"),
    Read("/remediation/new?agent={a_host}", "remediation.run"),
    Read("/remediation/new?finding={a_finding}", "remediation.run"),
    Read("/users", "users.manage"),
    Read("/settings"),
    Read("/audit", "audit.read"),
    Read("/api/v1/overview"),
    Read("/api/v1/units"),
    Read("/api/v1/hosts"),
    Read("/api/v1/hosts/{a_host}"),
    Read("/api/v1/findings"),
    Read("/api/v1/audit", "audit.read"),
    Read("/api/v1/users", "users.manage"),
)


@dataclass(frozen=True)
class Action:
    """A POST of the contract.

    ``real`` targets an existing object (sent by roles that may NOT do it: it must stay as it
    was); ``harmless`` targets nothing that exists or is invalid input (sent by roles that may
    do it: the answer must not be a refusal by role). ``watch`` names the state ``real`` would
    change.
    """

    permission: str
    real: str
    harmless: str
    data: dict[str, str | list[str]]
    watch: str = ""
    json: bool = False
    #: The body sent with ``harmless`` when it differs (invalid input instead of a new object).
    harmless_data: dict[str, str | list[str]] | None = None


ACTIONS = (
    Action("findings.act", "/findings/{a_finding}/ack", f"/findings/{MISSING_FINDING}/ack", {},
           "finding:{a_finding}"),
    Action("findings.act", "/findings/{a_finding}/exempt", f"/findings/{MISSING_FINDING}/exempt",
           {"reason": "matrix", "until": UNTIL}, "finding:{a_finding}"),
    Action("findings.act", "/findings/bulk", "/findings/bulk",
           {"action": "ack", "ids": ["{a_finding}"], "reason": "", "until": ""},
           "finding:{a_finding}"),
    Action("policies.manage", "/policies/rules/ATTT-07", "/policies/rules/NO-SUCH-RULE",
           {"enabled": "off"}, "finding:{a_finding}"),
    Action("tokens.manage", "/enrollment/tokens", "/enrollment/tokens",
           {"unit": COMMUNE_A, "ttl": "1d", "uses": "1", "note": "matrix"},
           harmless_data={"unit": "no-such-unit", "ttl": "1d", "uses": "1", "note": ""}),
    Action("tokens.manage", "/enrollment/tokens/no-such-token/revoke",
           "/enrollment/tokens/no-such-token/revoke", {}),
    Action("agents.manage", "/agents/{pending}/approve", f"/agents/{MISSING_AGENT}/approve", {},
           "agent:{pending}"),
    Action("agents.manage", "/agents/{a_host}/revoke", f"/agents/{MISSING_AGENT}/revoke", {},
           "agent:{a_host}"),
    Action("bundles.import", "/bundles", "/bundles", {}),
    Action("users.manage", "/users", "/users",
           {"username": "matrix-made", "full_name": "X", "role": "admin", "unit": "",
            "locale": "vi", "password": "mật khẩu đủ dài 123"}, "user:matrix-made",
           harmless_data={"username": "matrix-made", "full_name": "X", "role": "admin",
                          "unit": "", "locale": "vi", "password": "short"}),
    Action("users.manage", "/users/xa-auditor/disable", "/users/no-such-user/disable", {},
           "user:xa-auditor"),
    Action("users.manage", "/users/xa-auditor/enable", "/users/no-such-user/enable", {}),
    Action("users.manage", "/users/xa-auditor/password", "/users/no-such-user/password",
           {"password": "mật khẩu đủ dài 123"}),
    Action("schedules.manage", "/reports/schedules", "/reports/schedules",
           {"report": "security", "unit": COMMUNE_A, "cadence": "monthly", "format": "pdf",
            "lang": "vi", "recipients": "cntt@example.gov.vn"},
           harmless_data={"report": "security", "unit": COMMUNE_A, "cadence": "monthly",
                          "format": "pdf", "lang": "vi", "recipients": ""}),
    Action("schedules.manage", "/reports/schedules/999999/disable",
           "/reports/schedules/999999/disable", {}),
    Action("schedules.manage", "/reports/schedules/999999/remove",
           "/reports/schedules/999999/remove", {}),
    Action("findings.act", "/network/poll", "/network/poll", {}),
    Action("ports.manage", "/network/ports/999999/approve", "/network/ports/999999/approve", {}),
    Action("ports.manage", "/network/ports/999999/reject", "/network/ports/999999/reject",
           {"reason": "matrix"}),
    Action("ports.manage", "/network/ports/999999/undo", "/network/ports/999999/undo", {}),
    Action("remediation.run", "/remediation", "/remediation",
           {"finding": "{a_finding}"},
           harmless_data={"agent": MISSING_AGENT, "rule": "ATTT-07"}),
    Action("remediation.run", "/remediation/{a_job}/approve", "/remediation/999999/approve", {},
           "job:{a_job}"),
    Action("remediation.run", "/remediation/{a_job}/reject", "/remediation/999999/reject", {},
           "job:{a_job}"),
    Action("remediation.run", "/remediation/{a_job}/cancel", "/remediation/999999/cancel", {},
           "job:{a_job}"),
    Action("read", "/settings/language", "/settings/language", {"locale": "vi"}),
    Action("read", "/settings/password", "/settings/password",
           {"current": "not my password", "new": "x", "confirm": "y"}),
    Action("findings.act", "/api/v1/findings/{a_finding}/ack",
           f"/api/v1/findings/{MISSING_FINDING}/ack", {}, "finding:{a_finding}", json=True),
    Action("findings.act", "/api/v1/findings/{a_finding}/exempt",
           f"/api/v1/findings/{MISSING_FINDING}/exempt", {"reason": "matrix", "until": UNTIL},
           "finding:{a_finding}", json=True),
    Action("agents.manage", "/api/v1/agents/{pending}/approve",
           f"/api/v1/agents/{MISSING_AGENT}/approve", {}, "agent:{pending}", json=True),
    Action("agents.manage", "/api/v1/agents/{a_host}/revoke",
           f"/api/v1/agents/{MISSING_AGENT}/revoke", {}, "agent:{a_host}", json=True),
    Action("tokens.manage", "/api/v1/enrollment/tokens", "/api/v1/enrollment/tokens",
           {"unit": COMMUNE_A, "ttl": "1d", "uses": "1"}, json=True,
           harmless_data={"unit": "no-such-unit", "ttl": "1d", "uses": "1"}),
)  # fmt: skip


def _role_cases() -> Iterator[object]:
    for username in ROLE_ACCOUNTS:
        role = ROLES[username]
        for read in READS:
            allowed = read.permission in GRANTS[role]
            verdict = "200" if allowed else "403"
            name = f"{username} GET {read.path} {verdict}"
            yield pytest.param(username, "GET", read.path, None, allowed, id=name)
        for action in ACTIONS:
            allowed = action.permission in GRANTS[role]
            path = action.harmless if allowed else action.real
            verdict = "not refused" if allowed else "403"
            yield pytest.param(
                username, "POST", path, action, allowed, id=f"{username} POST {path} {verdict}"
            )


#: Commune-scoped accounts on commune B's objects: 404, and nothing changes.
SCOPE_CASES = (
    [
        pytest.param(user, method, path, watch, id=f"{user} {method} {path} 404")
        for user in SCOPED_ACCOUNTS
        for method, path, watch in (
            ("GET", "/hosts/{b_host}", ""),
            ("GET", "/api/v1/hosts/{b_host}", ""),
            ("GET", "/remediation/{b_job}", ""),
            ("GET", "/remediation/{b_job}/log?after=0", ""),
        )
    ]
    + [
        pytest.param("xa-operator", "POST", path, watch, id=f"xa-operator POST {path} 404")
        for path, watch in (
            ("/findings/{b_finding}/ack", "finding:{b_finding}"),
            ("/findings/{b_finding}/exempt", "finding:{b_finding}"),
            ("/agents/{b_host}/revoke", "agent:{b_host}"),
            ("/api/v1/findings/{b_finding}/ack", "finding:{b_finding}"),
            ("/api/v1/findings/{b_finding}/exempt", "finding:{b_finding}"),
            ("/api/v1/agents/{b_host}/revoke", "agent:{b_host}"),
            ("/remediation/{b_job}/approve", "job:{b_job}"),
            ("/remediation/{b_job}/reject", "job:{b_job}"),
            ("/remediation/{b_job}/cancel", "job:{b_job}"),
        )
    ]
    + [
        pytest.param("xa-operator", "GET", path, "", id=f"xa-operator GET {path} 404")
        for path in ("/remediation/new?finding={b_finding}", "/remediation/new?agent={b_host}")
    ]
)

#: Lists, exports and searches a commune-scoped account reads: never a trace of commune B.
LIST_PATHS = (
    "/",
    "/units",
    "/hosts",
    "/hosts?q={b_mac}",
    "/hosts?q=XA-NHU-CO",
    f"/hosts?unit={COMMUNE_B}",
    "/hosts.csv",
    "/hosts.csv?q={b_mac}",
    f"/hosts.csv?unit={COMMUNE_B}",
    "/findings",
    f"/findings?unit={COMMUNE_B}",
    "/findings?q=XA-NHU-CO",
    "/enrollment",
    "/api/v1/overview",
    "/api/v1/units",
    "/api/v1/hosts",
    "/api/v1/hosts?q={b_mac}",
    f"/api/v1/hosts?unit={COMMUNE_B}",
    "/api/v1/findings",
    f"/api/v1/findings?unit={COMMUNE_B}",
    "/reports",
    "/remediation",
    "/remediation?rule=ATTT-07",
    "/hosts/{a_host}",
    f"/reports/generate?report=remediation&unit={COMMUNE_A}&period=2026-Q4&format=csv",
    f"/reports/generate?report=security&unit={COMMUNE_A}&period=2026-Q4&format=csv",
    f"/reports/generate?report=security&unit={COMMUNE_B}&period=2026-Q4&format=csv",
)
LIST_CASES = [
    pytest.param(user, path, id=f"{user} {path}") for user in SCOPED_ACCOUNTS for path in LIST_PATHS
]

#: Pages every account opens in the browser, and the answer each role gets (scoped or not).
BROWSER_PAGES = (
    ("/", "read"),
    ("/units", "read"),
    ("/hosts", "read"),
    ("/hosts/{a_host}", "read"),
    ("/hosts/{b_host}", "scoped"),
    ("/findings", "read"),
    ("/policies", "read"),
    ("/enrollment", "read"),
    ("/bundles", "read"),
    ("/reports", "read"),
    ("/network", "read"),
    ("/remediation", "read"),
    ("/remediation/{a_job}", "read"),
    ("/remediation/{b_job}", "scoped"),
    ("/users", "users.manage"),
    ("/audit", "audit.read"),
    ("/settings", "read"),
)


# --------------------------------------------------------------------------- helpers


def fill(world: World, template: str) -> str:
    """``template`` with the test district's ids."""
    # The last host of A and the first of B: the flow test acts on A's first ones.
    a_host = world.hosts_in(COMMUNE_A)[-1]
    b_host = world.hosts_in(COMMUNE_B)[0]
    return template.format(
        a_host=a_host.agent_id,
        b_host=b_host.agent_id,
        a_finding=a_host.finding_id,
        b_finding=b_host.finding_id,
        pending=world.pending_agent_id,
        b_mac=b_host.mac,
        a_job=world.a_job,
        b_job=world.b_job,
    )


def state_of(world: World, watch: str) -> str | None:
    """The stored state ``watch`` names (``finding:ID``, ``agent:ID``, ``user:NAME``)."""
    if not watch:
        return None
    kind, key = watch.split(":", 1)
    if kind == "finding":
        return world.finding_status(int(key))
    if kind == "agent":
        return world.agent_status(key)
    if kind == "job":
        from controller.store.models import RemediationJob

        with world.db() as session:
            job = session.get(RemediationJob, int(key))
            return None if job is None else job.status
    from controller.store.users import get_user

    with world.db() as session:
        user = get_user(session, key)
        return None if user is None else f"disabled={user.disabled}"


def send(
    client: ApiClient, world: World, method: str, path: str, action: Action | None, allowed: bool
) -> httpx.Response:
    """One request of the matrix, never following redirects."""
    if method == "GET":
        return client.http.get(path)
    assert action is not None
    fields = action.data
    if allowed and action.harmless_data is not None:
        fields = action.harmless_data
    data = {
        key: [fill(world, v) for v in value] if isinstance(value, list) else fill(world, value)
        for key, value in fields.items()
    }
    if action.json:
        return client.post(path, json=data)
    if path == "/bundles":
        junk = ("not-a-bundle.ggb", b"not a bundle", "application/octet-stream")
        return client.post(path, files={"bundle": junk})
    return client.post(path, data=data)


def traces_of_b(world: World) -> list[str]:
    """Strings that only commune B's hosts, findings and agents would bring into a response."""
    found: list[str] = []
    for host in world.hosts_in(COMMUNE_B):
        found += [host.agent_id, host.mac, host.mac.upper(), host.mac.replace(":", "-")]
    found += ["XA-NHU-CO-PC01", "XA-NHU-CO-MAT-01", world.bundle_agent_id]
    return found


@pytest.fixture(scope="module")
def sessions(world: World) -> Iterator[dict[str, ApiClient]]:
    """One logged-in API client per account (logging in costs an argon2 hash each time)."""
    made: dict[str, ApiClient] = {}
    try:
        for username in ROLE_ACCOUNTS:
            client = ApiClient(world)
            reply = client.login(world.account(username))
            assert reply.status_code == 200, f"{username}: {reply.status_code} {reply.text}"
            made[username] = client
        yield made
    finally:
        for client in made.values():
            client.close()


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(
    ("username", "method", "template", "action", "allowed"), list(_role_cases())
)
def test_roles(
    world: World,
    sessions: dict[str, ApiClient],
    username: str,
    method: str,
    template: str,
    action: Action | None,
    allowed: bool,
) -> None:
    path = fill(world, template)
    watch = fill(world, action.watch) if action is not None else ""
    before = state_of(world, watch)
    reply = send(sessions[username], world, method, path, action, allowed)
    if method == "GET":
        expected = 200 if allowed else 403
        assert reply.status_code == expected, reply.text[:300]
    elif allowed:
        assert reply.status_code not in (401, 403), reply.text[:300]
        assert reply.status_code < 500, reply.text[:300]
    else:
        assert reply.status_code == 403, reply.text[:300]
        assert state_of(world, watch) == before, f"a refused {path} changed {watch}"


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(action, id=f"auditor POST {action.harmless} 403")
        for action in ACTIONS
        if action.permission not in GRANTS["auditor"]
    ],
)
def test_the_role_is_checked_before_the_target(
    world: World, sessions: dict[str, ApiClient], action: Action
) -> None:
    # The targets the "not refused" cases above use: refused by role, so the route exists and
    # a forbidden role cannot even learn whether the object does.
    reply = send(sessions["huyen-auditor"], world, "POST", action.harmless, action, False)
    assert reply.status_code == 403, reply.text[:300]


@pytest.mark.parametrize(("username", "method", "template", "watch"), SCOPE_CASES)
def test_other_communes_objects_are_not_found(
    world: World,
    sessions: dict[str, ApiClient],
    username: str,
    method: str,
    template: str,
    watch: str,
) -> None:
    path = fill(world, template)
    watched = fill(world, watch)
    before = state_of(world, watched)
    client = sessions[username]
    if method == "GET":
        reply = client.http.get(path)
    elif path.startswith("/api/"):
        reply = client.post(path, json={"reason": "scope", "until": UNTIL})
    else:
        reply = client.post(path, data={"reason": "scope", "until": UNTIL})
    assert reply.status_code == 404, reply.text[:300]
    assert state_of(world, watched) == before, f"an out-of-scope {path} changed {watched}"


@pytest.mark.parametrize(("username", "template"), LIST_CASES)
def test_lists_exports_and_searches_stay_in_scope(
    world: World, sessions: dict[str, ApiClient], username: str, template: str
) -> None:
    path = fill(world, template)
    reply = sessions[username].http.get(path)
    # A filter on a unit outside the scope may be refused; it must never answer its data.
    assert reply.status_code in (200, 400, 404), reply.text[:300]
    # A search field shows its own query back: the term searched for is not a leak by itself.
    searched = path.partition("q=")[2] if "q=" in path else None
    leaked = [t for t in traces_of_b(world) if t in reply.text and t != searched]
    assert not leaked, f"{path} shows commune B's {leaked}"


@pytest.mark.parametrize(
    "template",
    ["/hosts", "/hosts.csv", "/api/v1/hosts", "/findings", "/api/v1/findings"],
)
def test_scoped_lists_show_their_own_commune(
    world: World, sessions: dict[str, ApiClient], template: str
) -> None:
    # The other side of the scope test: an empty answer would pass it trivially.
    reply = sessions["xa-auditor"].http.get(fill(world, template))
    assert reply.status_code == 200, reply.text[:300]
    # The last host of A: the flow test acts on the first ones (approval replaces the first).
    assert world.hosts_in(COMMUNE_A)[-1].agent_id in reply.text


@pytest.mark.parametrize("username", ROLE_ACCOUNTS)
def test_pages_in_the_browser(
    world: World, browser: Browser, sessions: dict[str, ApiClient], username: str
) -> None:
    role = ROLES[username]
    scoped = username in SCOPED_ACCOUNTS
    cookie = sessions[username].session_cookie()
    assert cookie is not None
    context = browser.new_context(ignore_https_errors=True)
    trap = Trap()
    trap.allow_http_errors()  # refused pages (403, 404) are opened on purpose
    try:
        context.add_init_script(TRAP_SCRIPT)
        context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": world.url}])
        page = context.new_page()
        trap.attach(page)
        wrong: list[str] = []
        for template, needs in BROWSER_PAGES:
            if needs == "scoped":
                expected = 404 if scoped else 200
            else:
                expected = 200 if needs in GRANTS[role] else 403
            reply = page.goto(world.url + fill(world, template))
            status = reply.status if reply is not None else 0
            if status != expected:
                wrong.append(f"{template}: {status}, expected {expected}")
                continue
            if expected == 200:
                if page.locator("h1").count() == 0:
                    wrong.append(f"{template}: no h1")
                if scoped:
                    html = page.content()
                    wrong += [f"{template} shows {t}" for t in traces_of_b(world) if t in html]
        # The menu offers only what the role may open.
        page.goto(f"{world.url}/settings")
        for template, needs in BROWSER_PAGES:
            if needs in ("read", "scoped"):
                continue
            shown = page.locator(f'nav a[href="{template}"]').count() > 0
            if shown != (needs in GRANTS[role]):
                wrong.append(f"menu link {template}: shown={shown}")
        assert not wrong, f"{username}:\n  " + "\n  ".join(wrong)
        trap.check(page)
    finally:
        context.close()
