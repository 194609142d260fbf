"""A throwaway PostgreSQL/PostGIS cluster for the tests and benchmarks: made in a temporary folder,
on a free port, and removed afterwards. Nothing assumes a server that was left running.

Debian's ``postgresql`` and ``postgresql-*-postgis-3`` packages provide the binaries (``make test``
installs them). ``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres``
user the package creates. ``ONEGRID_TEST_PG_URL`` names an existing server instead (its databases
are created and dropped by the tests, never reused).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

USER = "onegrid"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql and postgis packages"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running server; :meth:`url` names a database on it."""

    host: str
    port: int
    folder: Path | None = None
    _proc_user: str | None = None
    _dbs: list[str] = field(default_factory=list)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{USER}@{self.host}:{self.port}/{db}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_db(self, name: str, *, template: str | None = None) -> str:
        """A new empty database (with PostGIS) or a copy of ``template``; its URL."""
        if template is None:
            self.admin(f'CREATE DATABASE "{name}"')
            import psycopg

            with psycopg.connect(self.url(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        else:
            self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._dbs.append(name)
        return self.url(name)

    def drop_db(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- the server process (a throwaway cluster only) -------------------------------------------
    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(bin_dir() / args[0]), *args[1:]]
        if self._proc_user is not None:
            cmd = ["runuser", "-u", self._proc_user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def stop(self, *, mode: str = "fast") -> None:
        if self.folder is not None:
            self._pg("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """Kill the server dead (SIGKILL to the postmaster and its children): a crash, not a shutdown."""
        assert self.folder is not None, "only a throwaway cluster is killed"
        pid = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        procs = [pid, *_children(pid)]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in procs):
            time.sleep(0.05)

    def start(self) -> None:
        assert self.folder is not None
        # After kill(): a killed postmaster may stay a zombie (no init reaps it in a container),
        # which its lock files would name as alive.
        (self.folder / "data" / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.folder.glob(".s.PGSQL.*.lock"):
            lock.unlink()
        self._pg(
            "pg_ctl", "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"), "-w", "start"
        )


def _children(pid: int) -> list[int]:
    out = []
    for status in glob.glob("/proc/[0-9]*/status"):
        with contextlib.suppress(OSError):
            text = Path(status).read_text()
            ppid = next(line for line in text.splitlines() if line.startswith("PPid:")).split()[1]
            if int(ppid) == pid:
                out.append(int(Path(status).parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def throwaway_cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """Start a new cluster in a temporary folder on a free port; stop and remove it afterwards.

    ``durable`` keeps the server's default ``fsync``/``synchronous_commit`` (benchmarks, kill
    tests); otherwise they are off, which is safe against a killed server (the OS still holds the
    writes) and makes the suite faster.
    """
    external = os.environ.get("ONEGRID_TEST_PG_URL")
    if external:
        from urllib.parse import urlparse

        u = urlparse(external)
        yield Cluster(host=u.hostname or "127.0.0.1", port=u.port or 5432)
        return
    root = Path(tempfile.mkdtemp(prefix="onegrid-pg-"))
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        pw = pwd.getpwnam(run_as)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
    port = _free_port()
    cluster = Cluster(host="127.0.0.1", port=port, folder=root, _proc_user=run_as)
    try:
        cluster._pg(
            "initdb", "-D", str(root / "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
        )
        settings = [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{root}'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "max_wal_size = 4GB",
        ]
        if not durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (root / "data" / "postgresql.conf").open("a") as fh:
            fh.write("\n".join(settings) + "\n")
        cluster.start()
        yield cluster
    finally:
        cluster.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)
