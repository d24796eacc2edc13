"""Login, logout, sessions and CSRF through the dashboard's HTTP routes."""

from __future__ import annotations

from collections.abc import Iterator

from tests.unit.controller.web.conftest import ADMIN_PASSWORD, Web


def test_pages_need_a_session(web: Web) -> None:
    reply = web.client.get("/settings", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=%2Fsettings"
    api = web.client.get("/api/v1/session")
    assert api.status_code == 401
    assert api.json()["error"] == "login_required"


def test_login_sets_a_host_cookie_and_a_new_id_each_time(web: Web) -> None:
    web.login()
    first = web.client.cookies.get("__Host-gg_session")
    assert first
    web.login()
    second = web.client.cookies.get("__Host-gg_session")
    assert second and second != first
    page = web.client.get("/settings")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text


def test_cookie_flags(web: Web) -> None:
    form = web.client.get("/login")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    reply = web.client.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookies = [v for k, v in reply.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("__Host-gg_session="))
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in session
    assert "Domain" not in session


def test_wrong_password_is_refused_in_the_users_language(web: Web) -> None:
    form = web.client.get("/login?lang=en")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    reply = web.client.post(
        "/login?lang=en",
        data={"username": "admin", "password": "not the password", "csrf_token": token},
    )
    assert reply.status_code == 401
    assert "Wrong user name or password." in reply.text


def test_login_without_its_form_token_is_refused(web: Web) -> None:
    reply = web.client.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": "forged"}
    )
    assert reply.status_code == 403
    assert web.client.cookies.get("__Host-gg_session") is None


def test_state_changes_need_the_csrf_token(web: Web) -> None:
    web.login()
    no_token = web.client.post("/settings/language", data={"locale": "en"})
    assert no_token.status_code == 403
    wrong = web.client.post("/settings/language", data={"locale": "en", "csrf_token": "x"})
    assert wrong.status_code == 403
    assert '<html lang="vi">' in web.client.get("/settings").text
    ok = web.post("/settings/language", {"locale": "en"})
    assert ok.status_code == 303
    assert '<html lang="en">' in web.client.get("/settings").text


def test_logout_ends_the_session(web: Web) -> None:
    web.login()
    secret = web.client.cookies.get("__Host-gg_session")
    reply = web.post("/logout")
    assert reply.status_code == 303
    web.client.cookies.set("__Host-gg_session", secret or "", domain="govguard.test")
    assert web.client.get("/settings", follow_redirects=False).status_code == 303


def test_api_session_round_trip(web: Web) -> None:
    reply = web.client.post(
        "/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()["csrf_token"]
    assert web.client.get("/api/v1/session").json()["user"]["role"] == "admin"
    assert web.client.delete("/api/v1/session").status_code == 403
    assert web.client.delete("/api/v1/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert web.client.get("/api/v1/session").status_code == 401


def test_failed_logins_are_kept_and_throttle_the_account(web: Web) -> None:
    def attempt(password: str) -> int:
        form = web.client.get("/login")
        token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        reply = web.client.post(
            "/login",
            data={"username": "admin", "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        return int(reply.status_code)

    assert [attempt("wrong password!") for _ in range(5)] == [401] * 5
    assert attempt(ADMIN_PASSWORD) == 429
    api = web.client.post("/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert api.status_code == 429
    assert int(api.headers["retry-after"]) > 0


def test_oversized_bodies_are_refused_before_parsing(web: Web) -> None:
    web.login()
    big = {"locale": "en", "csrf_token": web.csrf(), "padding": "x" * (2 * 1024 * 1024)}
    reply = web.client.post("/settings/language", data=big)
    assert reply.status_code == 413
    assert reply.json()["error"] == "too_large"
    assert '<html lang="vi">' in web.client.get("/settings").text


def test_oversized_bodies_without_a_length_are_cut_off(web: Web) -> None:
    web.login()
    token = web.csrf()

    def chunks() -> Iterator[bytes]:
        yield f"csrf_token={token}&locale=en&padding=".encode()
        for _ in range(40):
            yield b"x" * 65536

    reply = web.client.post(
        "/settings/language",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 413
    assert '<html lang="vi">' in web.client.get("/settings").text
