"""The `kliento` command: serve the CRM, run the job worker, load demo data, manage users and keys.

`kliento serve` is a small supervisor: it migrates, bootstraps a first start (admin user, demo
company), then runs gunicorn and, unless --no-worker, the Huey consumer as two child processes,
and stops both cleanly on SIGINT/SIGTERM. Keeping the web server and the worker in separate
processes means neither reaps the other's children and each can be scaled out on its own
(`kliento serve --no-worker` hosts, `kliento worker` hosts).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

# Exit status for bad input, as argparse uses for bad options.
EXIT_USAGE = 2
PASSTHROUGH = {"manage", "demo"}
DEMO_CONTACTS = 2000
DEMO_SEED = 1


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kliento.settings")
    import django

    django.setup()


def _out(message: str = "") -> None:
    print(message, flush=True)


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from django.utils.translation import gettext as _

    parser = argparse.ArgumentParser(
        prog="kliento",
        description=_("Kliento: an open-source CRM. Run one of the commands below."),
        epilog=_(
            "Configuration comes from the environment: DATABASE_URL, REDIS_URL, SECRET_KEY, "
            "DEBUG, ALLOWED_HOSTS, KLIENTO_DATA_DIR (default ./var). "
            "Use 'kliento COMMAND --help' for the options of a command."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser(
        "serve",
        help=_("migrate, then serve the web app and API (and run the job worker)"),
        description=_(
            "Apply database migrations, then serve the web app and the API with gunicorn. "
            "On the first start (no users yet) create the user 'admin' with a random password, "
            "print it once, and load the demo company. Unless --no-worker is given, the "
            "background job worker runs as a child process and stops with the server."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
    serve.add_argument("--port", type=int, default=8000, help=_("port to listen on"))
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help=_("do not run the job worker here (run 'kliento worker' elsewhere)"),
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "2")),
        metavar="N",
        help=_("web server processes (default: $WEB_CONCURRENCY or 2)"),
    )
    serve.add_argument(
        "--threads", type=int, default=4, metavar="N", help=_("threads per web process")
    )
    serve.add_argument(
        "--demo-contacts",
        type=int,
        default=DEMO_CONTACTS,
        metavar="N",
        help=_("size of the demo company loaded on the first start (default %(default)s)"),
    )
    serve.add_argument(
        "--no-demo", action="store_true", help=_("do not load the demo company on first start")
    )
    serve.add_argument(
        "--access-log", action="store_true", help=_("log every request to standard output")
    )

    worker = commands.add_parser(
        "worker",
        help=_("run the background job consumer"),
        description=_(
            "Run the Huey job consumer: emails, imports, scheduled work. Jobs are queued in "
            "Redis when REDIS_URL is set, otherwise in an SQLite file in the data dir. Stop "
            "with Ctrl-C (finishes running jobs) or SIGTERM."
        ),
    )
    worker.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=_("jobs run at the same time (default from settings: 2)"),
    )
    worker.add_argument(
        "--worker-type",
        choices=["thread", "process"],
        default=None,
        help=_("run jobs in threads or processes (default from settings: thread)"),
    )
    worker.add_argument(
        "--no-periodic", action="store_true", help=_("do not run scheduled (periodic) jobs")
    )

    commands.add_parser(
        "demo",
        help=_("load a realistic demo company: demo [--contacts N] [--seed S]"),
        add_help=False,
    )

    user = commands.add_parser("user", help=_("manage users"), description=_("Manage users."))
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION")
    user_commands.required = True
    user_add = user_commands.add_parser(
        "add",
        help=_("create a user"),
        description=_(
            "Create a user. Roles: admin, head, rep, marketer, support, analyst. "
            "Teams are given as a path and created when missing, e.g. 'Company/Sales/Moscow'."
        ),
    )
    user_add.add_argument("username")
    user_add.add_argument("--role", required=True, help=_("admin, head, rep, marketer, ..."))
    user_add.add_argument("--team", default="", help=_("team path, e.g. 'Company/Sales/Moscow'"))
    user_add.add_argument(
        "--password", help=_("at least 8 characters (asked for when omitted on a terminal)")
    )
    user_add.add_argument("--first-name", default="")
    user_add.add_argument("--last-name", default="")
    user_add.add_argument("--email", default="")
    user_add.add_argument("--language", default="en", help=_("en or ru"))

    apikey = commands.add_parser("apikey", help=_("manage API keys"))
    apikey_commands = apikey.add_subparsers(dest="apikey_command", metavar="ACTION")
    apikey_commands.required = True
    apikey_create = apikey_commands.add_parser(
        "create",
        help=_("create an API key for a user and print it once"),
        description=_(
            "Create an API key acting as USERNAME. The key is printed once on standard "
            "output; only its hash is stored. Use it as 'Authorization: Bearer KEY'."
        ),
    )
    apikey_create.add_argument("username")
    apikey_create.add_argument("--name", default="", help=_("a label, e.g. 'import script'"))

    commands.add_parser(
        "manage",
        help=_("run a Django management command: manage COMMAND [...]"),
        add_help=False,
    )

    # import (kliento.dataio.transfer): its options are parsed by the transfer app's CLI.
    commands.add_parser(
        "import",
        help=_("import a CSV/XLSX file or a full export: import FILE --entity contacts [...]"),
        add_help=False,
    )

    # dedup (kliento.dataio.dedup): its options are parsed by the dedup app's CLI.
    commands.add_parser(
        "dedup",
        help=_("find duplicates: dedup scan [--entity contacts|companies] [--output pairs.csv]"),
        add_help=False,
    )
    return parser


# --- user and apikey ----------------------------------------------------------------------


def _read_password() -> str:
    from django.utils.translation import gettext as _

    if not sys.stdin.isatty():
        raise CommandError(_("password: give --password (no terminal to ask on)."))
    first = getpass.getpass(_("Password: "))
    if first != getpass.getpass(_("Password (again): ")):
        raise CommandError(_("password: the two passwords differ."))
    return first


def cmd_user_add(args: argparse.Namespace) -> None:
    from django.db import transaction
    from django.utils.translation import gettext as _

    from kliento.core.errors import KlientoError
    from kliento.core.services import team_get_or_create_path, user_create

    password = args.password if args.password is not None else _read_password()
    names = [part.strip() for part in args.team.split("/") if part.strip()]
    try:
        # One transaction: a refused user leaves no half-created teams behind.
        with transaction.atomic():
            team = team_get_or_create_path(names=names) if names else None
            user = user_create(
                actor=None,
                username=args.username,
                password=password,
                role=args.role,
                team=team,
                first_name=args.first_name,
                last_name=args.last_name,
                email=args.email,
                language=args.language,
            )
    except KlientoError as exc:
        problems = [f"{field}: {problem}" for field, problem in exc.fields.items()]
        raise CommandError("\n".join(problems) or exc.message) from exc
    _out(
        _("Created user %(username)s (role %(role)s, team %(team)s).")
        % {"username": user.username, "role": user.role, "team": "/".join(names) or "-"}
    )


def cmd_apikey_create(args: argparse.Namespace) -> None:
    from django.utils.translation import gettext as _

    from kliento.core.models import User
    from kliento.core.services import apikey_create

    user = User.objects.filter(username=args.username).first()
    if user is None:
        raise CommandError(_("username: no user %(username)r.") % {"username": args.username})
    if not user.is_active:
        raise CommandError(
            _("username: user %(username)r is deactivated.") % {"username": args.username}
        )
    _key, raw = apikey_create(actor=user, user=user, name=args.name)
    # The key alone on stdout so scripts can capture it; the advice goes to stderr.
    _out(raw)
    _err(_("Store this key now: it is not shown again. Use it as 'Authorization: Bearer KEY'."))


# --- worker -------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> None:
    from django.core.management import call_command

    # run_huey gives the "huey" logger its own handler; don't print each line twice via root.
    logging.getLogger("huey").propagate = False

    options = {}
    if args.workers is not None:
        options["workers"] = args.workers
    if args.worker_type is not None:
        options["worker_type"] = args.worker_type
    if args.no_periodic:
        options["periodic"] = False
    call_command("run_huey", **options)


# --- serve --------------------------------------------------------------------------------


@contextlib.contextmanager
def _startup_lock() -> Iterator[None]:
    """Let one of several `serve` hosts starting at once migrate and bootstrap (PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    key = 0x6B6C69656E746F  # "kliento"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _create_admin() -> str:
    from kliento.core.models import Role
    from kliento.core.services import user_create

    password = secrets.token_urlsafe(12)
    user_create(actor=None, username="admin", password=password, role=Role.ADMIN)
    return password


def _load_demo(contacts: int) -> None:
    from django.core.management import call_command, get_commands
    from django.utils.translation import gettext as _

    if "demo" not in get_commands():
        _out(_("The demo command is not available yet; skipping the demo company."))
        return
    _out(_("Loading the demo company (%(n)s contacts)…") % {"n": contacts})
    try:
        call_command("demo", "--contacts", str(contacts), "--seed", str(DEMO_SEED))
    except Exception as exc:  # the CRM works without demo data; say so and go on
        _err(
            _("Could not load the demo company: %(error)s. Run 'kliento demo' to retry.")
            % {"error": exc}
        )


def _print_admin_login(password: str) -> None:
    from django.utils.translation import gettext as _

    _out("")
    _out(_("First start: created the administrator. This is shown only once:"))
    _out(_("    username: %(username)s") % {"username": "admin"})
    _out(_("    password: %(password)s") % {"password": password})
    _out(_("(Lost it? 'kliento manage changepassword admin' sets a new one.)"))
    _out("")


def bootstrap(*, demo_contacts: int) -> bool:
    """Migrate; on the first start (no users) create the admin and load the demo company.

    Returns whether this was the first start.
    """
    from django.core.management import call_command
    from django.db import connections
    from django.utils.translation import gettext as _

    from kliento.core.models import User

    _out(_("Applying database migrations…"))
    with _startup_lock():
        call_command("migrate", interactive=False, verbosity=0)
        password = None if User.objects.exists() else _create_admin()
    if password is not None:
        try:
            if demo_contacts > 0:
                _load_demo(demo_contacts)
        finally:
            # After the demo's own output, so the admin login is the last one on screen; in a
            # `finally` so that a failed or interrupted demo load cannot lose it.
            _print_admin_login(password)
    # The web server and the worker are separate processes with their own connections.
    connections.close_all()
    return password is not None


def _die_with_parent() -> None:
    """Children get SIGTERM if `serve` itself is killed (Linux), so nothing is left running."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    # Own process group: Ctrl-C reaches only `serve`, which then stops each child in order.
    return subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def _stop(proc: subprocess.Popen, sig: int, timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option as gunicorn, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_listening(
    host: str, port: int, proc: subprocess.Popen, timeout: float, stopping: list[int]
) -> bool:
    address = "127.0.0.1" if host in {"0.0.0.0", ""} else "::1" if host == "::" else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not stopping:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _gunicorn_has_setting(name: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == name for setting in KNOWN_SETTINGS)


def cmd_serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.utils.translation import gettext as _

    if args.workers < 1 or args.threads < 1:
        raise CommandError(_("workers: --workers and --threads must be at least 1."))
    if not _port_free(args.host, args.port):
        _err(
            _("Port %(port)s on %(host)s is already in use; choose another with --port.")
            % {"port": args.port, "host": args.host}
        )
        return 1
    first_start = bootstrap(demo_contacts=0 if args.no_demo else args.demo_contacts)
    # Whitenoise warns when the collected-static directory is missing; files come from finders.
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env["KLIENTO_DATA_DIR"] = str(settings.DATA_DIR)
    bind = f"[{args.host}]:{args.port}" if ":" in args.host else f"{args.host}:{args.port}"
    web_argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "kliento.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--graceful-timeout",
        "10",
        "--timeout",
        "120",
        "--name",
        "kliento",
    ]
    if args.access_log:
        web_argv += ["--access-logfile", "-"]
    if _gunicorn_has_setting("control_socket_disable"):
        # A control socket at a fixed path would clash between several servers on one host.
        web_argv.append("--no-control-socket")

    stopping: list[int] = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    web = _spawn(web_argv, env)
    worker = None
    try:
        if not _wait_listening(args.host, args.port, web, timeout=60, stopping=stopping):
            if not stopping:
                _err(_("The web server did not start; see the messages above."))
                return 1
        else:
            shown = bind.replace("0.0.0.0", "127.0.0.1", 1).replace("[::]", "[::1]", 1)
            _out(_("Kliento is running at %(url)s") % {"url": f"http://{shown}/"})
            if first_start:
                _out(_("Log in as 'admin' with the password printed above."))
        if not args.no_worker and not stopping:
            worker = _spawn([sys.executable, "-m", "kliento.cli", "worker"], env)
            _out(_("Job worker started (pid %(pid)s).") % {"pid": worker.pid})
        _out(_("Press Ctrl-C to stop."))
        while not stopping:
            if web.poll() is not None:
                _err(_("The web server stopped unexpectedly."))
                return web.returncode or 1
            if worker is not None and worker.poll() is not None:
                _err(_("The job worker stopped unexpectedly."))
                return worker.returncode or 1
            time.sleep(0.2)
        _out(_("Stopping…"))
        return 0
    finally:
        # gunicorn: SIGTERM is a graceful stop. Huey: SIGINT finishes running jobs.
        _stop(web, signal.SIGTERM, timeout=15)
        if worker is not None:
            _stop(worker, signal.SIGINT, timeout=30)


# --- entry point --------------------------------------------------------------------------


def _passthrough(command: str, rest: list[str]) -> None:
    from django.core.management import execute_from_command_line, get_commands
    from django.utils.translation import gettext as _

    if command == "manage":
        execute_from_command_line(["kliento manage", *rest])
        return
    if command not in get_commands():
        _err(
            _("The '%(command)s' command is not available in this version.") % {"command": command}
        )
        sys.exit(1)
    if not {"-h", "--help"} & set(rest):
        from django.core.management import call_command

        # `kliento demo` on a fresh data dir should just work, as `serve` would.
        call_command("migrate", interactive=False, verbosity=0)
    execute_from_command_line(["kliento", command, *rest])


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    _setup_django()
    if argv and argv[0] in PASSTHROUGH:
        _passthrough(argv[0], argv[1:])
        return
    # --- import (kliento.dataio.transfer) ---
    if argv and argv[0] == "import":
        from kliento.dataio.transfer.cli import main as import_main

        sys.exit(import_main(argv[1:]))
    # --- end import ---
    # --- dedup (kliento.dataio.dedup) ---
    if argv and argv[0] == "dedup":
        from kliento.dataio.dedup.cli import main as dedup_main

        sys.exit(dedup_main(argv[1:]))
    # --- end dedup ---
    args = build_parser().parse_args(argv)
    handlers = {
        "serve": cmd_serve,
        "worker": cmd_worker,
        "user": cmd_user_add,
        "apikey": cmd_apikey_create,
    }
    label = " ".join(
        part for part in (args.command, getattr(args, f"{args.command}_command", None)) if part
    )
    try:
        status = handlers[args.command](args)
    except CommandError as exc:
        for line in str(exc).splitlines():
            _err(f"kliento {label}: error: {line}")
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
