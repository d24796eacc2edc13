"""`govguard init`: a complete data directory, or nothing at all and one clear line."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from controller import pki
from controller.cli import main
from controller.passwords import verify_password
from controller.settings import load_settings
from controller.store import audit, db, units, users

PASSWORD = "mật khẩu quản trị 2026"  # noqa: S105 - the test's own throwaway password


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin.pw"
    path.write_text(PASSWORD + "\nsecond line is ignored\n", encoding="utf-8")
    return path


def _init(data_dir: Path, password_file: Path, *extra: str) -> int:
    return main(
        [
            "init",
            "--data-dir",
            str(data_dir),
            "--server-name",
            "govguard.test",
            "--server-name",
            "192.0.2.10",
            "--password-file",
            str(password_file),
            *extra,
        ]
    )


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("govguard: error: ")
    return lines[0]


def test_init_creates_everything(
    tmp_path: Path, db_url: str, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "gg"
    code = _init(
        data_dir,
        password_file,
        "--database-url",
        db_url,
        "--admin",
        "quantri",
        "--unit-id",
        "phu-luong",
        "--unit-name",
        "UBND xã Phú Lương",
        "--unit-kind",
        "commune",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    settings = load_settings(data_dir)
    assert settings.database_url == db_url
    assert settings.server_names == ["govguard.test", "192.0.2.10"]
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for private in (settings.ca_key, settings.tls_key, settings.config_path):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    server_pem = settings.tls_cert.read_bytes()
    assert pki.certificate_names(server_pem) == ["govguard.test", "192.0.2.10"]
    fingerprint = pki.ca_fingerprint(settings.ca_cert.read_bytes())
    # The next steps, in English and Vietnamese, with what the operator needs to go on.
    assert fingerprint in out
    assert "Next steps:" in out
    assert "Các bước tiếp theo:" in out
    assert f"govguard tokens create --data-dir {data_dir} --unit phu-luong" in out
    assert "govguard-agent enroll --controller https://govguard.test:8443 --token-file" in out
    assert PASSWORD not in out + err

    engine = db.make_engine(db_url)
    try:
        with db.session_factory(engine)() as session:
            unit = units.get_unit(session, "phu-luong")
            assert unit is not None
            assert (unit.name, unit.kind, unit.parent_id) == ("UBND xã Phú Lương", "commune", None)
            admin = users.get_user(session, "quantri")
            assert admin is not None
            assert admin.role == "admin"
            assert admin.unit_id is None
            assert verify_password(admin.password_hash, PASSWORD)
            actions = {entry.action for entry in audit.list_entries(session)}
            assert {"controller.initialized", "unit.created", "user.created"} <= actions
    finally:
        engine.dispose()


def test_default_database_is_sqlite_in_the_data_dir(
    tmp_path: Path,
    password_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "from-env"
    monkeypatch.setenv("GOVGUARD_DATA_DIR", str(data_dir))
    code = main(["init", "--server-name", "ubnd", "--password-file", str(password_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (data_dir / "govguard.db").is_file()
    # The data dir came from the environment, so the hints need no --data-dir.
    assert "govguard tokens create --unit root" in out


def test_an_existing_empty_directory_is_used(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    assert _init(data_dir, password_file) == 0
    assert (data_dir / "config.yaml").is_file()


def test_refuses_a_non_empty_directory(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "used"
    data_dir.mkdir()
    (data_dir / "config.yaml").write_text("server_names: [old]\n", encoding="utf-8")
    assert _init(data_dir, password_file) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "already exists and is not empty" in line
    assert (data_dir / "config.yaml").read_text(encoding="utf-8") == "server_names: [old]\n"
    assert [p.name for p in data_dir.iterdir()] == ["config.yaml"]


@pytest.mark.parametrize(
    "precreate",
    [pytest.param(False, id="new directory removed"), pytest.param(True, id="empty dir emptied")],
)
def test_failure_after_writing_cleans_up(
    tmp_path: Path, password_file: Path, capsys: pytest.CaptureFixture[str], precreate: bool
) -> None:
    data_dir = tmp_path / "half"
    if precreate:
        data_dir.mkdir()
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    code = _init(data_dir, password_file, "--database-url", "postgresql://postgres@127.0.0.1:1/x")
    assert code == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "cannot reach the database postgresql://postgres@127.0.0.1:1/x" in line
    if precreate:
        assert list(data_dir.iterdir()) == []
    else:
        assert not data_dir.exists()


def test_refuses_a_database_that_already_has_users(
    tmp_path: Path, db_url: str, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init(tmp_path / "first", password_file, "--database-url", db_url) == 0
    capsys.readouterr()
    assert _init(tmp_path / "second", password_file, "--database-url", db_url) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "already holds a govguard installation (1 user(s))" in line
    assert not (tmp_path / "second").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("\n", "password refused: the password is empty", id="empty"),
        pytest.param("short\n", "password refused: the password is too short", id="short"),
        pytest.param("          \n", "only spaces", id="blank"),
    ],
)
def test_weak_passwords_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(content, encoding="utf-8")
    assert _init(tmp_path / "gg", password_file) == 1
    assert message in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "gg").exists()


def test_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert _init(tmp_path / "gg", Path("-")) == 0
    engine = db.make_engine(load_settings(tmp_path / "gg").database_url)
    try:
        with db.session_factory(engine)() as session:
            admin = users.get_user(session, "admin")
            assert admin is not None
            assert verify_password(admin.password_hash, PASSWORD)
    finally:
        engine.dispose()


class _Terminal(io.StringIO):
    """What ``sys.stdin`` is at an operator's prompt, as far as ``isatty`` tells."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("answers", "code", "message"),
    [
        pytest.param([PASSWORD, PASSWORD], 0, "", id="typed twice"),
        pytest.param([PASSWORD, PASSWORD + "x"], 1, "the two passwords differ", id="mismatch"),
        pytest.param(["short", "short"], 1, "too short", id="too short"),
    ],
)
def test_password_prompt(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answers: list[str],
    code: int,
    message: str,
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        # The terminal is the one thing a test cannot type into; getpass is its whole API.
        prompts.append(prompt)
        return answers[len(prompts) - 1]

    monkeypatch.setattr("controller.commands.init.getpass.getpass", fake_getpass)
    monkeypatch.setattr("sys.stdin", _Terminal())
    data_dir = tmp_path / "gg"
    result = main(["init", "--data-dir", str(data_dir), "--server-name", "ubnd"])
    assert result == code
    assert len(prompts) == 2
    assert "'admin'" in prompts[0]
    if code:
        assert message in _one_error_line(capsys.readouterr().err)
        assert not data_dir.exists()
    else:
        assert (data_dir / "config.yaml").is_file()


def test_no_password_on_the_command_line(tmp_path: Path) -> None:
    # A password in argv is visible to every user through ps and lands in shell history.
    with pytest.raises(SystemExit) as caught:
        main(["init", "--data-dir", str(tmp_path / "gg"), "--server-name", "x", "--password", "p"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--server-name", "bad name"], "--server-name: not a DNS name", id="name"),
        pytest.param(["--admin", "Ad Min"], "--admin: 'Ad Min' is not a valid", id="admin"),
        pytest.param(["--unit-id", "Xã A"], "--unit-id: 'Xã A' is not a valid", id="unit id"),
        pytest.param(["--unit-name", "  "], "--unit-name must not be empty", id="unit name"),
        pytest.param(["--unit-kind", "9"], "--unit-kind: '9' is not a valid kind", id="kind"),
        pytest.param(
            ["--database-url", "mysql://x/y"], "--database-url: database_url must", id="db"
        ),
    ],
)
def test_bad_arguments_write_nothing(
    tmp_path: Path,
    password_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    assert _init(tmp_path / "gg", password_file, *extra) == 1
    assert message in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "gg").exists()


def test_missing_password_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(tmp_path / "gg", tmp_path / "nope.pw") == 1
    assert "nope.pw: cannot read: No such file" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "gg").exists()


def test_no_terminal_and_no_password_file_is_one_line(tmp_path: Path) -> None:
    """Run from a script or a service unit: no GetPassWarning noise, nothing written."""
    data_dir = tmp_path / "gg"
    done = subprocess.run(
        [sys.executable, "-m", "controller.cli", "init", "--data-dir", str(data_dir),
         "--server-name", "ubnd"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    line = _one_error_line(done.stderr)
    assert "no terminal to ask for the administrator's password" in line
    assert "--password-file" in line
    assert done.stdout == ""
    assert not data_dir.exists()
