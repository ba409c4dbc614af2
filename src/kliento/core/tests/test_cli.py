"""The real `kliento` command, run as a subprocess against its own scratch database.

The database is a fresh SQLite file in a temporary data dir, or, when the suite itself runs on
PostgreSQL, a scratch PostgreSQL database created for the test and dropped afterwards.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from kliento.conftest import free_port

KLIENTO = shutil.which("kliento", path=str(Path(sys.executable).parent)) or "kliento"
TIMEOUT = 90


@pytest.fixture(scope="module")
def database_url_factory():
    """Scratch database URLs: SQLite files, or PostgreSQL databases when the suite runs there."""
    db = settings.DATABASES["default"]
    created: list[str] = []

    def make(data_dir: Path) -> str:
        if db["ENGINE"] != "django.db.backends.postgresql":
            return f"sqlite:///{data_dir / 'kliento.sqlite3'}"
        name = f"kliento_cli_{secrets.token_hex(4)}"
        with _pg_admin(db) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{name}"

    yield make
    if created:
        with _pg_admin(db) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin(db: dict):
    import psycopg

    return psycopg.connect(
        dbname="postgres",
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        autocommit=True,
    )


def _env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "HUEY_IMMEDIATE"}}
    env.update(
        KLIENTO_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="kliento.settings",
        SECRET_KEY="test-cli-secret",
    )
    return env


def kliento(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KLIENTO, *args],
        env=env,
        cwd=env["KLIENTO_DATA_DIR"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def shell(env: dict[str, str], code: str) -> str:
    result = kliento(env, "manage", "shell", "-v", "0", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def migrated_env(tmp_path_factory, database_url_factory):
    data_dir = tmp_path_factory.mktemp("kliento-cli")
    env = _env(data_dir, database_url_factory(data_dir))
    result = kliento(env, "manage", "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr
    return env


@pytest.fixture
def fresh_env(tmp_path, database_url_factory):
    return _env(tmp_path, database_url_factory(tmp_path))


# --- help ---------------------------------------------------------------------------------


def test_help_lists_every_command(tmp_path):
    result = kliento(_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}"), "--help")

    assert result.returncode == 0
    for command in ("serve", "worker", "demo", "user", "apikey", "manage"):
        assert re.search(rf"^\s+{command}\s+\S", result.stdout, re.MULTILINE), command


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--help"], "--no-worker"),
        (["worker", "--help"], "--worker-type"),
        (["user", "add", "--help"], "--role ROLE"),
        (["apikey", "create", "--help"], "printed once"),
        (["demo", "--help"], "--contacts"),
    ],
)
def test_help_of_each_command(capsys, args, expected):
    # In-process: the parser is the same one the console script builds.
    from kliento.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)

    assert exit_info.value.code == 0
    assert expected in capsys.readouterr().out


# --- user add -----------------------------------------------------------------------------


def test_user_add_creates_a_user_who_can_log_in(migrated_env):
    result = kliento(
        migrated_env,
        "user", "add", "alice", "--role", "rep", "--team", "Company/Sales/Moscow",
        "--password", "s3cret-pass", "--first-name", "Alice", "--email", "alice@example.com",
        "--language", "ru",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Created user alice (role rep, team Company/Sales/Moscow).\n"
    assert (
        shell(
            migrated_env,
            "from django.contrib.auth import authenticate\n"
            "u = authenticate(username='alice', password='s3cret-pass')\n"
            "chain = [t.name for t in type(u.team).objects.filter(pk__in=u.team.path.strip('/')"
            ".split('/')).order_by('path')]\n"
            "print(u.role, '/'.join(chain), u.first_name, u.email, u.language)",
        )
        == "rep Company/Sales/Moscow Alice alice@example.com ru"
    )


BAD_USERS = {
    "bad-role": (
        ["boss1", "--role", "boss", "--password", "s3cret-pass"],
        "role: Unknown role 'boss'; one of: admin, head, rep, marketer, support, analyst.",
    ),
    "short-password": (
        ["shorty", "--role", "rep", "--password", "short"],
        "password: A password needs at least 8 characters.",
    ),
    "duplicate": (
        ["dup", "--role", "rep", "--password", "s3cret-pass"],
        "username: User 'dup' already exists.",
    ),
}


@pytest.mark.parametrize(("args", "message"), BAD_USERS.values(), ids=BAD_USERS.keys())
def test_user_add_refuses_bad_input_with_exit_2(migrated_env, args, message):
    if args[0] == "dup":
        assert kliento(migrated_env, "user", "add", *args).returncode == 0

    result = kliento(migrated_env, "user", "add", *args)

    assert result.returncode == 2
    assert result.stderr == f"kliento user add: error: {message}\n"
    assert result.stdout == ""


def test_refused_user_leaves_no_user_and_no_team_behind(migrated_env):
    result = kliento(
        migrated_env,
        "user", "add", "carol", "--role", "boss", "--password", "s3cret-pass",
        "--team", "Ghost/Team",
    )  # fmt: skip

    assert result.returncode == 2
    assert (
        shell(
            migrated_env,
            "from kliento.core.models import Team, User\n"
            "print(User.objects.filter(username='carol').count(),"
            " Team.objects.filter(name__in=['Ghost', 'Team']).count())",
        )
        == "0 0"
    )


def test_user_add_without_password_and_without_terminal_is_refused(migrated_env):
    result = kliento(migrated_env, "user", "add", "nopass", "--role", "rep")

    assert result.returncode == 2
    assert result.stderr == (
        "kliento user add: error: password: give --password (no terminal to ask on).\n"
    )


# --- apikey create ------------------------------------------------------------------------


def test_apikey_create_prints_a_key_that_authenticates(migrated_env):
    created = kliento(
        migrated_env, "user", "add", "bob", "--role", "head", "--password", "bobs-pass"
    )
    assert created.returncode == 0, created.stderr

    result = kliento(migrated_env, "apikey", "create", "bob", "--name", "import script")

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert re.fullmatch(r"kl_[A-Za-z0-9_-]{43}", key)
    assert "not shown again" in result.stderr
    assert (
        shell(
            migrated_env,
            "from kliento.core.services import apikey_authenticate\n"
            "from kliento.core.models import ApiKey\n"
            f"print(apikey_authenticate({key!r}).username, ApiKey.objects.get(user__username='bob')"
            f".name, ApiKey.objects.filter(digest={key!r}).count())",
        )
        == "bob import script 0"
    )


def test_apikey_create_for_unknown_user_exits_2(migrated_env):
    result = kliento(migrated_env, "apikey", "create", "nobody")

    assert result.returncode == 2
    assert result.stderr == "kliento apikey create: error: username: no user 'nobody'.\n"
    assert result.stdout == ""


# --- serve --------------------------------------------------------------------------------


class Server:
    """`kliento serve` in the background, its output collected in a file."""

    def __init__(self, env: dict[str, str], *args: str):
        self.port = free_port()
        self.log = Path(env["KLIENTO_DATA_DIR"]) / f"serve-{self.port}.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [KLIENTO, "serve", "--port", str(self.port), "--workers", "1", *args],
            env=env,
            cwd=env["KLIENTO_DATA_DIR"],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = self.output
            if text in output:
                return output
            assert self.proc.poll() is None, f"serve exited early:\n{output}"
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed in {timeout}s:\n{self.output}")

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_first_start_prints_admin_login_once_serves_http_and_runs_jobs(fresh_env):
    first = Server(fresh_env, "--demo-contacts", "30")
    try:
        output = first.wait_for("Press Ctrl-C to stop.")
        assert f"Kliento is running at http://127.0.0.1:{first.port}/\n" in output
        assert output.count("username: admin") == 1
        # The demo company is loaded first, so the admin login is the last one on screen.
        assert output.index("Loading the demo company (30 contacts)") < output.index(
            "username: admin"
        )
        password = re.search(r"^    password: (\S+)$", output, re.MULTILINE).group(1)
        worker_pid = int(re.search(r"Job worker started \(pid (\d+)\)", output).group(1))
        # Any answer from Django proves the app is served (404 until a page exists there).
        assert first.get("/login/") in {200, 302, 404}

        # The admin can log in, and the worker started by serve consumes a queued job.
        assert (
            shell(
                fresh_env,
                "from datetime import timedelta\n"
                "from django.contrib.auth import authenticate\n"
                "from django.utils import timezone\n"
                "from kliento.core.models import JobFailure\n"
                "from kliento.core.tasks import prune_job_failures\n"
                "JobFailure.objects.create(task_name='old', task_id='old', error='boom',"
                " at=timezone.now() - timedelta(days=40))\n"
                "prune_job_failures()\n"
                "from kliento.customers.models import Contact\n"
                f"print(authenticate(username='admin', password={password!r}).role,"
                " Contact.objects.count())",
            )
            == "admin 30"
        )
        deadline = time.monotonic() + 30
        while shell(fresh_env, "from kliento.core.models import JobFailure\n"
                    "print(JobFailure.objects.count())") != "0":  # fmt: skip
            assert time.monotonic() < deadline, "the worker did not run the job"
            time.sleep(0.5)

        assert first.stop(signal.SIGTERM) == 0
        assert not _alive(worker_pid)
        assert "Stopping" in first.output
    finally:
        first.kill()

    second = Server(fresh_env, "--no-demo", "--no-worker")
    try:
        output = second.wait_for("Press Ctrl-C to stop.")
        assert second.get("/login/") in {200, 302, 404}
        assert second.get("/healthz") == 200
        assert "password:" not in output
        assert "Job worker started" not in output
        assert second.stop(signal.SIGINT) == 0
    finally:
        second.kill()


def test_serve_refuses_a_busy_port(fresh_env):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = kliento(fresh_env, "serve", "--port", str(port), "--no-demo", "--workers", "1")

    assert result.returncode == 1
    assert result.stderr.endswith(
        f"Port {port} on 127.0.0.1 is already in use; choose another with --port.\n"
    )
    assert "Kliento is running" not in result.stdout
