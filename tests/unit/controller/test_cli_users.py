"""`govguard users add|passwd|disable|enable|list` on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controller.cli import main
from controller.passwords import verify_password
from controller.settings import load_settings
from controller.store import audit, db, users

PASSWORD = "mật khẩu của cán bộ"  # noqa: S105 - a test account's password
ADMIN_PASSWORD = "mật khẩu quản trị"  # noqa: S105 - what the data_dir fixture's init used


@pytest.fixture
def store(data_dir: Path) -> Iterator[Session]:
    """A session on the same database, to look at what the commands wrote."""
    engine = db.make_engine(load_settings(data_dir).database_url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "user.pw"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_password_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVGUARD_PASSWORD", raising=False)


def _users(data_dir: Path, *argv: str) -> int:
    action, *rest = argv
    return main(["users", action, "--data-dir", str(data_dir), *rest])


def _disabled(store: Session, username: str) -> bool:
    store.rollback()  # end the read transaction: see what the command committed since
    user = users.get_user(store, username)
    assert user is not None
    return user.disabled


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("govguard: error: ")
    return lines[0]


def test_add_list_and_the_audit(
    data_dir: Path, store: Session, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--role", "operator", "--unit", "root", "--locale", "en", "--name", "Nguyễn Văn A"]
    code = _users(data_dir, "add", "Can-Bo", *options, "--password-file", str(password_file))
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == "added operator can-bo (root)"
    user = users.get_user(store, "can-bo")
    assert user is not None
    assert (user.role, user.unit_id, user.locale, user.full_name) == (
        "operator", "root", "en", "Nguyễn Văn A",
    )  # fmt: skip
    assert verify_password(user.password_hash, PASSWORD)
    entry = audit.list_entries(store, action="user.created")[0]
    assert entry.actor.startswith("cli:")
    assert (entry.source, entry.target) == ("cli", "user:can-bo")

    assert _users(data_dir, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "USERNAME",
        "ROLE",
        "UNIT",
        "LANG",
        "STATE",
        "LAST",
        "LOGIN",
        "NAME",
    ]
    assert [line.split()[:5] for line in lines[1:]] == [
        ["admin", "admin", "-", "vi", "enabled"],
        ["can-bo", "operator", "root", "en", "enabled"],
    ]
    assert _users(data_dir, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["username"] for row in listed] == ["admin", "can-bo"]
    assert listed[1]["full_name"] == "Nguyễn Văn A"
    assert listed[1]["created_at"].endswith("Z")
    assert all("password_hash" not in row for row in listed)


def test_password_from_the_environment(
    data_dir: Path, store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVGUARD_PASSWORD", PASSWORD)
    assert _users(data_dir, "add", "kiem-tra", "--role", "auditor") == 0
    user = users.get_user(store, "kiem-tra")
    assert user is not None
    assert verify_password(user.password_hash, PASSWORD)


def test_password_at_the_terminal(
    data_dir: Path, store: Session, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    answers = iter([PASSWORD, PASSWORD, PASSWORD, "something else!"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        # The terminal is the one thing a test cannot type into; getpass is its whole API.
        prompts.append(prompt)
        return next(answers)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("controller.commands.users.getpass.getpass", fake_getpass)
    monkeypatch.setattr("sys.stdin", Terminal())
    assert _users(data_dir, "add", "kiem-tra", "--role", "auditor") == 0
    assert "'kiem-tra'" in prompts[0]
    capsys.readouterr()
    assert _users(data_dir, "passwd", "kiem-tra") == 1
    assert "the two passwords differ" in _one_error_line(capsys.readouterr().err)


def test_no_password_source_is_a_usage_error(
    data_dir: Path, store: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdin", io.StringIO(""))  # not a terminal
        assert _users(data_dir, "add", "kiem-tra", "--role", "auditor") == 2
        assert "no password given" in _one_error_line(capsys.readouterr().err)
        assert _users(data_dir, "passwd", "admin") == 2
        assert "GOVGUARD_PASSWORD" in _one_error_line(capsys.readouterr().err)
    assert users.get_user(store, "kiem-tra") is None


@pytest.mark.parametrize(
    ("argv", "password", "message"),
    [
        pytest.param(["admin", "--role", "auditor"], PASSWORD, "user 'admin' already exists",
                     id="duplicate"),
        pytest.param(["ADMIN", "--role", "auditor"], PASSWORD, "user 'admin' already exists",
                     id="duplicate other case"),
        pytest.param(["x-1", "--role", "auditor", "--unit", "xa-z"], PASSWORD,
                     "unknown unit 'xa-z'", id="unknown unit"),
        pytest.param(["x-1", "--role", "auditor"], "ngắn quá",
                     "password refused: the password is too short", id="short password"),
        pytest.param(["x 1", "--role", "auditor"], PASSWORD, "'x 1' is not a valid user name",
                     id="bad name"),
    ],
)  # fmt: skip
def test_add_refuses(
    data_dir: Path,
    store: Session,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    password: str,
    message: str,
) -> None:
    path = tmp_path / "given.pw"
    path.write_text(password + "\n", encoding="utf-8")
    assert _users(data_dir, "add", *argv, "--password-file", str(path)) == 1
    assert message in _one_error_line(capsys.readouterr().err)
    assert [u.username for u in users.list_users(store)] == ["admin"]


def test_unknown_role_is_refused_by_the_parser(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _users(data_dir, "add", "x-1", "--role", "root")
    assert caught.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err


def test_passwd_disable_enable(
    data_dir: Path, store: Session, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _users(data_dir, "passwd", "admin", "--password-file", str(password_file)) == 0
    assert "password of admin changed" in capsys.readouterr().out
    admin = users.get_user(store, "admin")
    assert admin is not None
    assert verify_password(admin.password_hash, PASSWORD)
    assert not verify_password(admin.password_hash, ADMIN_PASSWORD)

    # The only administrator of the district: refused, nothing changes.
    assert _users(data_dir, "disable", "admin") == 1
    err = _one_error_line(capsys.readouterr().err)
    assert "'admin' is the last enabled administrator of the whole district" in err

    assert _users(data_dir, "add", "admin-2", "--role", "admin",
                  "--password-file", str(password_file)) == 0  # fmt: skip
    assert _users(data_dir, "disable", "Admin") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "disabled admin"
    assert _disabled(store, "admin") is True
    assert _users(data_dir, "enable", "admin") == 0
    assert _disabled(store, "admin") is False
    actions = [e.action for e in audit.list_entries(store) if e.target == "user:admin"]
    assert actions[:3] == ["user.enabled", "user.disabled", "user.password_changed"]


@pytest.mark.parametrize("action", ["disable", "enable", "passwd"])
def test_unknown_user(
    data_dir: Path, password_file: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    extra = ["--password-file", str(password_file)] if action == "passwd" else []
    assert _users(data_dir, action, "khong-co", *extra) == 1
    assert "unknown user 'khong-co'" in _one_error_line(capsys.readouterr().err)
