"""Enrollment against a real HTTPS server playing the controller (tests/support/tls_echo.py),
and once against the real controller behind a proxy that loses its answer."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import trustme
from cryptography import x509

from agent import keys
from agent.cli import main
from agent.enrollment import EnrollmentError, enroll, enroll_computer
from agent.errors import AgentError
from agent.outbox import Outbox
from agent.report import Identity
from agent.state import load_key, load_state, save_state, state_paths
from agent.token import EnrollmentToken, format_token
from agent.transport import TransportError
from agent.wire import EnrollRequest
from tests.support.tls_echo import Answer, Recorded, Route, json_answer, tls_echo

ENROLL = ("POST", "/api/v1/enroll")
#: What a failed enrollment that may have reached the controller leaves for the next attempt.
STAGED = ["agent.key.new", "ca.pem.new", "enroll.new"]
AGENT_ID = "00112233445566aa"
PC = Identity(
    hostname="ubnd-xa-01",
    machine_id="4c4c4544004a3010",
    system_uuid="4c4c4544-004a-3010-8052-b4c04f4e4d32",
    system_serial="5CG1234XYZ",
    macs=["3c:52:82:00:00:01"],
)


def _fingerprint(ca: trustme.CA) -> str:
    cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def _token(ca: trustme.CA, *, second: bool = False) -> str:
    """The test token for ``ca``; ``second``: another token of the same controller."""
    token_id, secret = ("0a1b2c3e", "6" * 32) if second else ("0a1b2c3d", "5" * 32)
    return format_token(
        EnrollmentToken(token_id=token_id, secret=secret, ca_fingerprint=_fingerprint(ca))
    )


def _controller(status: int = 201, agent_id: str = AGENT_ID) -> Callable[[Recorded], Answer]:
    """An /enroll route that answers like the controller: key id computed from the request."""

    def answer(request: Recorded) -> Answer:
        sent = msgspec.json.decode(request.body, type=EnrollRequest)
        key_id = keys.key_id(base64.b64decode(sent.public_key))
        reply: dict[str, object] = {
            "agent_id": agent_id,
            "key_id": key_id,
            "status": "active" if status == 201 else "pending",
            "settings": {"version": 3, "interval_s": 600, "full_every_s": 86400, "jitter": 0.1},
        }
        if status == 202:
            reply["message"] = "This computer is already enrolled with another key"
        return json_answer(status, reply)

    return answer


def _routes(route: Route) -> dict[tuple[str, str], Route]:
    return {ENROLL: route}


def test_enroll_active_writes_state_that_load_state_reads(tmp_path: Path) -> None:
    ca = trustme.CA()
    state_dir = tmp_path / "state"
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        state = enroll(srv.url, _token(ca) + "\n", state_dir, identity=PC, timeout_s=5)
    assert load_state(state_dir) == state
    assert (state.agent_id, state.status, state.server_hostname) == (
        AGENT_ID,
        "active",
        "localhost",
    )
    assert state.controller_url == srv.url
    # The key on disk is the one whose public half the controller received.
    get_ca, post = srv.requests
    assert (get_ca.method, get_ca.path) == ("GET", "/api/v1/ca")
    sent = msgspec.json.decode(post.body, type=EnrollRequest)
    public = keys.public_raw(load_key(state_dir))
    assert base64.b64decode(sent.public_key) == public
    assert state.key_id == keys.key_id(public)
    assert sent.token == _token(ca)
    assert (sent.hostname, sent.system_serial, sent.macs) == (
        PC.hostname,
        PC.system_serial,
        PC.macs,
    )
    assert sent.os in ("linux", "windows")
    paths = state_paths(state_dir)
    assert paths.ca.read_bytes() == ca.cert_pem.bytes()
    assert msgspec.json.decode(paths.settings.read_bytes())["interval_s"] == 600
    assert sorted(p.name for p in state_dir.iterdir()) == [
        "agent.key",
        "ca.pem",
        "identity.json",
        "settings.json",
    ]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_enrolled_key_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    ca = trustme.CA()
    state_dir = tmp_path / "state"
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        enroll(srv.url, _token(ca), state_dir, identity=PC, timeout_s=5)
    assert stat.S_IMODE(state_paths(state_dir).key.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_enroll_pending_when_the_controller_knows_the_hardware(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(202))) as srv:
        state = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    assert state.status == "pending"
    loaded = load_state(tmp_path)
    assert loaded is not None
    assert loaded.status == "pending"


def test_identity_comes_from_the_identity_collector(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        enroll(srv.url, _token(ca), tmp_path, timeout_s=5)
    sent = msgspec.json.decode(srv.requests[-1].body, type=EnrollRequest)
    assert sent.hostname == socket.gethostname()


def test_fingerprint_mismatch_posts_nothing(tmp_path: Path) -> None:
    ca, other = trustme.CA(), trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        with pytest.raises(EnrollmentError) as info:
            enroll(srv.url, _token(other), tmp_path, identity=PC, timeout_s=5)
        assert [(r.method, r.path) for r in srv.requests] == [("GET", "/api/v1/ca")]
    assert "the controller's CA does not match the token" in str(info.value)
    assert "nothing was sent" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_only_the_checked_ca_is_pinned(tmp_path: Path) -> None:
    """A second certificate appended to the download (an interceptor's) is not trusted."""
    ca, intruder = trustme.CA(), trustme.CA()
    served = ca.cert_pem.bytes() + intruder.cert_pem.bytes()
    with tls_echo(ca=ca, ca_pem=served, routes=_routes(_controller(201))) as srv:
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    assert state_paths(tmp_path).ca.read_bytes() == ca.cert_pem.bytes()


def test_controller_certificate_for_another_name_gets_no_token(tmp_path: Path) -> None:
    """The CA matches the token but the certificate does not name the URL's host."""
    ca = trustme.CA()
    with tls_echo(ca=ca, names=("other.example",), routes=_routes(_controller(201))) as srv:
        with pytest.raises(AgentError, match="does not match the host name"):
            enroll(srv.address_url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        assert srv.wait_for(lambda: srv.handshake_failures >= 1)
        assert [r.method for r in srv.requests] == ["GET"]  # the CA download only
    assert load_state(tmp_path) is None
    # Not a refusal: the staged key stays for a rerun (see the lost-answer tests below).
    assert sorted(p.name for p in tmp_path.iterdir()) == STAGED


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            json_answer(401, {"error": "token_unknown", "message": "x"}),
            "does not know this enrollment token",
            id="401 token_unknown",
        ),
        pytest.param(
            json_answer(401, {"error": "token_expired", "message": "x"}),
            "token has expired",
            id="401 token_expired",
        ),
        pytest.param(
            json_answer(401, {"error": "token_used", "message": "x"}),
            "already been used",
            id="401 token_used",
        ),
        pytest.param(
            json_answer(401, {"error": "token_revoked", "message": "x"}),
            "revoked by an administrator",
            id="401 token_revoked",
        ),
        pytest.param(
            json_answer(401, {"error": "token_invalid", "message": "x"}),
            "could not read the enrollment token",
            id="401 token_invalid",
        ),
        pytest.param(
            json_answer(409, {"error": "key_exists", "message": "Key already registered."}),
            "already has this agent's public key",
            id="409 key_exists",
        ),
        pytest.param(
            json_answer(422, {"error": "invalid_request", "message": "hostname: too long"}),
            "rejected the enrollment request: hostname: too long",
            id="422 invalid_request",
        ),
    ],
)
def test_refusals_give_one_line_and_leave_no_state(
    tmp_path: Path, answer: Answer, expected: str
) -> None:
    ca = trustme.CA()
    with (
        tls_echo(ca=ca, routes=_routes(answer)) as srv,
        pytest.raises(EnrollmentError, match=expected) as info,
    ):
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    assert "\n" not in str(info.value)
    assert load_state(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # staged key and CA removed


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            Answer(500, b"<html>oops</html>", "text/html"),
            "could not enroll this computer: HTTP 500",
            id="500 without JSON",
        ),
        pytest.param(
            json_answer(201, {"agent_id": "nope"}),
            "answer was not understood",
            id="201 with a broken body",
        ),
    ],
)
def test_unclear_answers_keep_the_staged_key_for_a_rerun(
    tmp_path: Path, answer: Answer, expected: str
) -> None:
    """The controller may have registered the key: a rerun must send the same one."""
    ca = trustme.CA()
    with (
        tls_echo(ca=ca, routes=_routes(answer)) as srv,
        pytest.raises(EnrollmentError, match=expected) as info,
    ):
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    assert "\n" not in str(info.value)
    assert load_state(tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == STAGED
    sent = msgspec.json.decode(srv.requests[-1].body, type=EnrollRequest)
    staged = keys.load_private(tmp_path / "agent.key.new")
    assert base64.b64decode(sent.public_key) == keys.public_raw(staged)


def test_bad_token_text_sends_nothing(tmp_path: Path) -> None:
    with tls_echo() as srv, pytest.raises(EnrollmentError, match="not a govguard enrollment token"):
        enroll(srv.url, "gg1.nothex", tmp_path, identity=PC, timeout_s=5)
    assert srv.requests == []


def test_existing_identity_is_kept_without_force(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        first = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        with pytest.raises(EnrollmentError, match=r"already enrolled.*--force"):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        assert len(srv.requests) == 2  # the refused second attempt contacted nobody
    assert load_state(tmp_path) == first


def test_force_keeps_the_old_files_as_time_stamped_backups(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        first = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        old_key = state_paths(tmp_path).key.read_bytes()
        srv.routes[ENROLL] = _controller(202, agent_id="99887766554433bb")
        second = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5, force=True)
        srv.routes[ENROLL] = _controller(201, agent_id="aabbccddeeff0011")
        third = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5, force=True)
    assert load_state(tmp_path) == third
    assert second.agent_id == "99887766554433bb"
    assert len({first.key_id, second.key_id, third.key_id}) == 3
    keys_kept = sorted(tmp_path.glob("agent.key.bak-*"))
    identities = sorted(tmp_path.glob("identity.json.bak-*"))
    assert len(keys_kept) == len(identities) == 2  # the second --force overwrote nothing
    assert all(re.fullmatch(r"agent\.key\.bak-\d{8}T\d{6}Z(-\d+)?", p.name) for p in keys_kept)
    assert old_key in [p.read_bytes() for p in keys_kept]
    kept_ids = {msgspec.json.decode(p.read_bytes())["agent_id"] for p in identities}
    assert kept_ids == {first.agent_id, second.agent_id}
    assert not list(tmp_path.glob("*.new"))


def test_force_with_a_refusal_keeps_the_old_identity(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        first = enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        srv.routes[ENROLL] = json_answer(401, {"error": "token_used", "message": "x"})
        with pytest.raises(EnrollmentError, match="already been used"):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5, force=True)
    assert load_state(tmp_path) == first
    assert not any(".bak" in p.name for p in tmp_path.iterdir())


def _queue(state_dir: Path, count: int) -> Outbox:
    """The outbox of a service that is still running, ``count`` reports in it: in its WAL."""
    paths = state_paths(state_dir)
    box = Outbox(paths.outbox, seq_ceiling=paths.seq_ceiling)
    for n in range(count):
        box.put("heartbeat", b"body-%d" % n, lambda s: (f"{s:032x}", f"h-{s}"), now=1000.0)
    assert (state_dir / "outbox.sqlite-wal").stat().st_size > 0
    return box


def test_force_keeps_the_old_outbox_whole_and_starts_a_new_sequence(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        service = _queue(tmp_path, 3)
        srv.routes[ENROLL] = _controller(201, agent_id="99887766554433bb")
        try:
            done = enroll_computer(
                srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5, force=True
            )
            assert done.old_outbox is not None
            alone = tmp_path / "copy.sqlite"  # the backup's main file holds every report
            alone.write_bytes(done.old_outbox.read_bytes())
        finally:
            service.close()
    with Outbox(alone) as copy:
        assert [i.seq for i in copy.items()] == [1, 2, 3]
    paths = state_paths(tmp_path)
    assert done.unsent == 3 and done.old_outbox is not None
    assert done.old_outbox.name.startswith("outbox.sqlite.bak-")
    assert {p.name for p in done.backups} >= {
        done.old_outbox.name,
        done.old_outbox.name.replace("outbox.sqlite", "seq-ceiling"),
    }
    # Not reused by the new identity: no outbox, no ceiling until the service makes them.
    assert not paths.outbox.exists() and not paths.seq_ceiling.exists()
    with Outbox(done.old_outbox) as old:  # and where it was kept
        assert [i.seq for i in old.items()] == [1, 2, 3]
    with Outbox(paths.outbox, seq_ceiling=paths.seq_ceiling) as new:
        assert new.put("full", b"x", lambda s: (f"{s:032x}", "h"), now=1.0)[0] == 1


def test_a_leftover_outbox_of_an_earlier_identity_is_not_reused(tmp_path: Path) -> None:
    """identity.json and agent.key were deleted by hand; the outbox and ceiling were not."""
    _queue(tmp_path, 2).close()
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        done = enroll_computer(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    assert done.unsent == 2 and done.old_outbox is not None
    assert not state_paths(tmp_path).outbox.exists()


# --- a lost answer --------------------------------------------------------------------------


def _answer_lost_once(then: Route) -> tuple[Route, list[Recorded]]:
    """An /enroll route that drops the connection after reading the first request."""
    heard: list[Recorded] = []

    def route(request: Recorded) -> Answer:
        heard.append(request)
        if len(heard) == 1:
            raise ConnectionAbortedError("the answer is lost on the way back")
        return then(request) if callable(then) else then

    return route, heard


def _public_key(request: Recorded) -> bytes:
    return base64.b64decode(msgspec.json.decode(request.body, type=EnrollRequest).public_key)


def test_after_a_lost_answer_the_same_key_is_sent_again(tmp_path: Path) -> None:
    ca = trustme.CA()
    route, heard = _answer_lost_once(_controller(201))
    with tls_echo(ca=ca, routes=_routes(route)) as srv:
        with pytest.raises(TransportError, match="connection was lost"):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        assert load_state(tmp_path) is None
        assert sorted(p.name for p in tmp_path.iterdir()) == STAGED
        if os.name == "posix":
            assert stat.S_IMODE((tmp_path / "agent.key.new").stat().st_mode) == 0o600
        marker = (tmp_path / "enroll.new").read_text(encoding="utf-8")
        assert "5" * 32 not in marker  # the token's secret is never written down
        state = enroll(srv.url, _token(ca) + "\n", tmp_path, identity=PC, timeout_s=5)
    assert len(heard) == 2 and _public_key(heard[0]) == _public_key(heard[1])
    assert keys.public_raw(load_key(tmp_path)) == _public_key(heard[0])
    assert state.key_id == keys.key_id(_public_key(heard[0]))
    assert load_state(tmp_path) == state
    assert not list(tmp_path.glob("*.new"))


@pytest.mark.parametrize(
    ("change", "reused"),
    [
        pytest.param("nothing", True, id="same controller and token: reused"),
        pytest.param("token", False, id="another token: a new key"),
        pytest.param("url", False, id="another controller URL: a new key"),
    ],
)
def test_the_staged_key_is_reused_only_for_the_same_controller_and_token(
    tmp_path: Path, change: str, reused: bool
) -> None:
    ca = trustme.CA()
    route, heard = _answer_lost_once(_controller(201))
    with tls_echo(ca=ca, routes=_routes(route)) as srv:
        with pytest.raises(TransportError):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        token = _token(ca, second=change == "token")
        url = srv.address_url if change == "url" else srv.url  # 127.0.0.1 instead of localhost
        done = enroll_computer(url, token, tmp_path, identity=PC, timeout_s=5)
    assert done.reused_key is reused
    assert (_public_key(heard[0]) == _public_key(heard[1])) is reused
    assert keys.public_raw(load_key(tmp_path)) == _public_key(heard[1])


def test_a_refusal_after_a_lost_answer_removes_the_staged_key(tmp_path: Path) -> None:
    ca = trustme.CA()
    refused = json_answer(409, {"error": "key_exists", "message": "Key already registered."})
    route, heard = _answer_lost_once(refused)
    with tls_echo(ca=ca, routes=_routes(route)) as srv:
        with pytest.raises(TransportError):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        with pytest.raises(EnrollmentError, match="already has this agent's public key"):
            enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
        assert sorted(p.name for p in tmp_path.iterdir()) == []
        srv.routes[ENROLL] = _controller(201)
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    sent = [_public_key(r) for r in srv.requests if r.method == "POST"]
    assert _public_key(heard[0]) == _public_key(heard[1]) != sent[-1]  # a fresh key at last


@pytest.mark.integration
def test_a_lost_answer_from_the_real_controller_ends_in_one_active_agent(
    tmp_path: Path,
) -> None:
    """The real controller behind a proxy that drops its answer to the enrollment request."""
    from controller import pki
    from tests.support.controller_proc import identity, init_controller
    from tests.support.cutting_proxy import cutting_proxy

    ctl = init_controller(tmp_path / "ctl")
    with ctl:
        token = ctl.create_token(1)  # one use only: a second, different enrollment would fail
        tls = ctl.data_dir / "tls"
        cert_pem, key_pem = pki.issue_server_cert(
            (tls / "ca.crt").read_bytes(), (tls / "ca.key").read_bytes(), ["localhost"]
        )
        pc = identity(1, "lost-answer")
        state_dir = tmp_path / "agent"
        # Request 1 is the CA download, request 2 the enrollment: its answer is dropped.
        with cutting_proxy(ctl.url, ctl.ca_file, cert_pem, key_pem, cut=lambda n: n == 2) as proxy:
            with pytest.raises(TransportError):
                enroll(proxy.url, token, state_dir, identity=pc, timeout_s=30)
            assert proxy.cut == 1 and load_state(state_dir) is None
            state = enroll(proxy.url, token, state_dir, identity=pc, timeout_s=30)
        listing = ctl.cli("agents", "list").stdout
    assert state.status == "active"  # not "pending": the controller knew this very key
    rows = [line.split() for line in listing.splitlines() if pc.hostname in line]
    assert rows == [[state.agent_id, "active", *rows[0][2:]]]  # one agent, this one


def test_corrupt_identity_is_reported_when_loading(tmp_path: Path) -> None:
    ca = trustme.CA()
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        enroll(srv.url, _token(ca), tmp_path, identity=PC, timeout_s=5)
    state_paths(tmp_path).identity.write_text("{", encoding="utf-8")
    with pytest.raises(AgentError, match="corrupt"):
        load_state(tmp_path)


# --- the command line ------------------------------------------------------------------------


def _cli_enroll(url: str, token_file: Path, state_dir: str) -> int:
    return main(
        ["enroll", "--controller", url, "--token-file", str(token_file), "--state-dir", state_dir]
    )


def test_cli_enroll_prints_the_agent_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = trustme.CA()
    token_file = tmp_path / "token.txt"
    token_file.write_text(_token(ca) + "\n", encoding="utf-8")
    state_dir = tmp_path / "state"
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        code = _cli_enroll(srv.url, token_file, str(state_dir))
    out = capsys.readouterr()
    assert code == 0, out.err
    assert AGENT_ID in out.out
    assert "đã đăng ký: máy tính này là agent" in out.out  # Vietnamese unless --lang en
    assert load_state(state_dir) is not None


def test_cli_enroll_pending_says_an_administrator_must_approve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = trustme.CA()
    token_file = tmp_path / "token.txt"
    token_file.write_text(_token(ca), encoding="utf-8")
    with tls_echo(ca=ca, routes=_routes(_controller(202))) as srv:
        code = _cli_enroll(srv.url, token_file, str(tmp_path / "state"))
    out = capsys.readouterr().out
    assert code == 0
    assert "chờ phê duyệt" in out
    assert f"govguard agents approve {AGENT_ID}" in out


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param(None, "cannot read the token file", id="missing token file"),
        pytest.param("hello", "not a govguard enrollment token", id="not a token"),
        pytest.param("", "token file is empty", id="empty token file"),
    ],
)
def test_cli_enroll_failures_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str | None, expected: str
) -> None:
    token_file = tmp_path / "token.txt"
    if token is not None:
        token_file.write_text(token, encoding="utf-8")
    code = _cli_enroll("https://127.0.0.1:9", token_file, str(tmp_path / "state"))
    err = capsys.readouterr().err
    assert code == 1
    assert expected in err
    assert err.count("\n") == 1


def test_cli_enroll_refusal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = trustme.CA()
    token_file = tmp_path / "token.txt"
    token_file.write_text(_token(ca), encoding="utf-8")
    routes = _routes(json_answer(401, {"error": "token_expired", "message": "x"}))
    with tls_echo(ca=ca, routes=routes) as srv:
        code = _cli_enroll(srv.url, token_file, str(tmp_path / "state"))
    err = capsys.readouterr().err
    assert code == 1
    assert "token has expired" in err
    assert err.count("\n") == 1


def test_cli_force_says_what_was_kept_and_what_will_not_be_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = trustme.CA()
    token_file = tmp_path / "token.txt"
    token_file.write_text(_token(ca), encoding="utf-8")
    state_dir = tmp_path / "state"
    args = ["enroll", "--controller", "", "--token-file", str(token_file)]
    args += ["--state-dir", str(state_dir), "--force", "--lang", "en"]
    with tls_echo(ca=ca, routes=_routes(_controller(201))) as srv:
        args[2] = srv.url
        assert main(args) == 0
        capsys.readouterr()
        _queue(state_dir, 2).close()
        srv.routes[ENROLL] = _controller(201, agent_id="99887766554433bb")
        assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    (old_outbox,) = state_dir.glob("outbox.sqlite.bak-*[0-9Z]")
    assert out[0].startswith("enrolled: this computer is agent 99887766554433bb")
    assert out[1].startswith(f"kept the previous identity's files in {state_dir}: ")
    assert "identity.json.bak-" in out[1] and "agent.key.bak-" in out[1]
    assert out[2] == (
        f"2 reports queued under the previous identity will not be sent; they stay in {old_outbox}"
    )


def test_cli_has_no_token_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The token never travels on the command line (other users can read the process list)."""
    with pytest.raises(SystemExit):
        main(["enroll", "--controller", "https://x", "--token", "gg1.x"])
    assert "unrecognized arguments: --token gg1.x" in capsys.readouterr().err


def test_save_state_then_enroll_refuses(tmp_path: Path) -> None:
    """An identity written by anyone (not only enroll) counts as enrolled."""
    from agent.state import AgentState

    save_state(
        tmp_path,
        AgentState(
            controller_url="https://c",
            server_hostname="c",
            agent_id=AGENT_ID,
            key_id="fedcba9876543210",
            status="active",
            enrolled_at="2026-11-28T10:00:00Z",
        ),
    )
    with pytest.raises(EnrollmentError, match="already enrolled"):
        enroll("https://127.0.0.1:9", _token(trustme.CA()), tmp_path, identity=PC, timeout_s=1)
