"""A private PostgreSQL server for the tests: ``initdb`` into a temporary folder, started on
a free 127.0.0.1 port, removed when done.

It uses the server binaries of the machine's PostgreSQL (Debian's ``postgresql`` package
puts them in ``/usr/lib/postgresql/<major>/bin``; ``$DOMICILE_PG_BIN`` names another folder;
``pg_ctl`` on ``PATH`` also works). The cluster trusts local connections (it listens on
127.0.0.1 only, and its socket folder is private), runs without fsync (test data need not
survive a power cut), and has one superuser, ``domicile``.

PostgreSQL refuses to run as root. Run as root (as CI is), the cluster's folder is given to
an unprivileged user (``$DOMICILE_PG_USER``, else ``postgres`` as the Debian package creates
it, else ``nobody``) and ``initdb``/``pg_ctl`` run as that user; otherwise as ourselves.
Only the standard library is used::

    python -m testbed.postgres    # start one, print its URL, stop it on Enter

:class:`PostgresServer` raises :class:`TestbedError` with the log tail and a hint when the
server cannot start: tests fail with the reason, never skip silently.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from testbed.servers import HOST, TestbedError

#: The cluster's superuser (trusted on 127.0.0.1 and the private socket).
SUPERUSER = "domicile"
START_TIMEOUT = 60.0
#: Server settings for a test cluster: fast and roomy (several gateways with pools).
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "400",
    "shared_buffers": "32MB",
    "max_locks_per_transaction": "256",
}


def bin_dir() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (newest Debian major first)."""
    named = os.environ.get("DOMICILE_PG_BIN")
    if named:
        return Path(named)
    majors = [p for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if p.parts[-3].isdigit()]
    if majors:
        return max(majors, key=lambda p: int(p.parts[-3])).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise TestbedError(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found; "
        "hint: apt-get install postgresql (CI's .ci/run does), or set DOMICILE_PG_BIN"
    )


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("DOMICILE_PG_USER"), "postgres", "nobody"):
        if not name:
            continue
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise TestbedError(
        "running as root and no unprivileged user to run PostgreSQL as; "
        "hint: set DOMICILE_PG_USER to one (PostgreSQL refuses to run as root)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One private cluster: :meth:`start`, :meth:`url`, :meth:`create_database`, :meth:`stop`."""

    def __init__(
        self, root: Path | None = None, *, durable: bool = False, synchronous_commit: bool = True
    ) -> None:
        """``durable``: fsync and full-page writes on, as in production (benchmarks), with
        ``synchronous_commit`` as given."""
        self.bin = bin_dir()
        self.user = _run_as()
        self.root = root or Path(tempfile.mkdtemp(prefix="domicile-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self.port = 0
        self._owned_root = root is None
        self.settings = dict(SETTINGS)
        if durable:
            self.settings.update(fsync="on", full_page_writes="on")
            self.settings["synchronous_commit"] = "on" if synchronous_commit else "off"

    # -- running programs as the cluster's owner ------------------------------------------

    def _run(
        self, program: str, *args: str, owner: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one of PostgreSQL's programs (as the cluster's owner if ``owner``)."""
        return subprocess.run(  # noqa: S603 -- argv built here, no shell
            [str(self.bin / program), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            timeout=START_TIMEOUT + 10,
            check=False,
            **(self._as_user() if owner else {}),
        )

    def _checked(self, program: str, *args: str, owner: bool = True) -> str:
        """Run a program; its output, or TestbedError with it and the log."""
        done = self._run(program, *args, owner=owner)
        if done.returncode != 0:
            raise TestbedError(
                f"PostgreSQL's {program} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}\n{self.log_tail()}"
            )
        return done.stdout

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        """initdb (once) and start on a free port; raises TestbedError with the log."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            for path in (self.root, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.root.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            self._checked(
                "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync",
            )  # fmt: skip
        last = ""
        for _attempt in range(5):  # a free port can be taken before the server binds it
            self.port = free_port()
            options = " ".join(
                [f"-p {self.port}", f"-h {HOST}", f"-k {self.socket_dir}"]
                + [f"-c {k}={v}" for k, v in self.settings.items()]
            )
            done = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                "-w", "-t", str(int(START_TIMEOUT)), "start",
            )  # fmt: skip
            if done.returncode == 0:
                return
            last = (done.stderr or done.stdout).strip()
            if "already in use" not in self.log_tail():
                break
        raise TestbedError(
            f"PostgreSQL did not start: {last}\n{self.log_tail()}\n"
            "hint: check that the postgresql package is installed and the folder is writable"
        )

    def _as_user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def stop(self) -> None:
        """Stop the server (immediately: test data) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if self._owned_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "server log:\n" + "\n".join(text.splitlines()[-lines:])

    # -- what the tests use ---------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for ``database`` as the superuser."""
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def psql_url(self, database: str = "postgres") -> str:
        """The same as a plain libpq URL (``postgresql://``)."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement with ``psql`` (autocommit); its output."""
        return self._checked(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", HOST,
            "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", statement, owner=False,
        ).strip()  # fmt: skip

    def create_database(self, name: str, template: str = "template0") -> str:
        """A new database, empty or a copy of ``template``; its SQLAlchemy URL."""
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres_server(
    *, durable: bool = False, synchronous_commit: bool = True
) -> Iterator[PostgresServer]:
    """A started private server, stopped and removed on exit."""
    server = PostgresServer(durable=durable, synchronous_commit=synchronous_commit)
    try:
        server.start()
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    with postgres_server() as pg:
        print(pg.url())
        with contextlib.suppress(EOFError, KeyboardInterrupt):
            input("running; Enter stops it\n")
