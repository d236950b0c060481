"""A throwaway PostgreSQL cluster under the lake: the local stand-in for the design's Aurora ``sourcemf`` database.

PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged user (``C360_PG_USER``,
else ``postgres``, else ``nobody``). The cluster listens on 127.0.0.1 only, on a free port, with a generated
password kept in a file readable by its owner only.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from c360.errors import ServiceError

DATABASE = "sourcemf"
SUPERUSER = "c360"
SERVICES_FOLDER = "_services"
"""The folder of a local lake where its local services (the PostgreSQL cluster) keep their state."""
PRIVATE_PREFIX = "c360-pg-"
"""The name of a private temp folder that holds a cluster's data outside its lake."""


@dataclass(frozen=True)
class PostgresInfo:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    data_dir: str

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={self.database}"

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"

    def redacted(self) -> str:
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.database}"


def find_bindir() -> Path:
    """The directory of the PostgreSQL server binaries (initdb, pg_ctl)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    explicit = os.environ.get("C360_PG_BINDIR")
    for path in ([explicit] if explicit else []) + candidates:
        if path and (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    raise ServiceError(
        "the PostgreSQL server binaries (initdb, pg_ctl) are missing: install them (Debian: apt-get install "
        "postgresql) or set C360_PG_BINDIR; `make run` installs them when run as root"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_user() -> str | None:
    """None when we are not root (the server runs as ourselves), else the unprivileged user to run it as."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("C360_PG_USER"), "postgres", "nobody"):
        if not name:
            continue
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ServiceError("running as root and no unprivileged user to run PostgreSQL as; set C360_PG_USER")


class PostgresCluster:
    """Create (once), start and stop the local cluster whose state lives in ``<lake>/_services/postgres``."""

    def __init__(self, lake_root: str) -> None:
        if "://" in lake_root:
            raise ServiceError(
                "the local PostgreSQL cluster needs a local lake; on AWS set C360_PG_DSN instead"
            )
        self.home = Path(lake_root) / SERVICES_FOLDER / "postgres"
        self.state_file = self.home / "cluster.json"
        self.user = _service_user()

    # --- helpers ----------------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ServiceError(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _chown(self, path: Path) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _user_can_use(self, path: Path) -> bool:
        if not self.user:
            return True
        return self._run("test", "-w", str(path), "-a", "-x", str(path), check=False).returncode == 0

    def load(self) -> PostgresInfo | None:
        """The cluster's connection details when it has been created, else None."""
        return self._load()

    def _load(self) -> PostgresInfo | None:
        if not self.state_file.exists():
            return None
        info = PostgresInfo(**json.loads(self.state_file.read_text()))
        return info if (Path(info.data_dir) / "PG_VERSION").exists() else None

    # --- lifecycle --------------------------------------------------------------------------------
    def create(self) -> PostgresInfo:
        """initdb a new cluster (idempotent: an existing cluster is reused)."""
        existing = self._load()
        if existing:
            return existing
        bindir = find_bindir()
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)
        base = self.home
        self._chown(base)
        if not self._user_can_use(base):
            # A parent folder of the lake is closed to the service user (e.g. a 0700 temp dir): keep the data
            # directory in a private temp folder instead, and remember where it is in the lake.
            base = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))
            self._chown(base)
        data_dir = base / "data"
        password = secrets.token_urlsafe(24)
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        try:
            self._run(
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        info = PostgresInfo(
            host="127.0.0.1",
            port=free_port(),
            user=SUPERUSER,
            password=password,
            database=DATABASE,
            data_dir=str(data_dir),
        )
        self.state_file.write_text(json.dumps(asdict(info), indent=2))
        os.chmod(self.state_file, 0o600)
        return info

    def is_running(self, info: PostgresInfo) -> bool:
        bindir = find_bindir()
        return self._run(str(bindir / "pg_ctl"), "-D", info.data_dir, "status", check=False).returncode == 0

    def start(self) -> PostgresInfo:
        """Create if needed, start if not running, and make sure the ``sourcemf`` database exists."""
        info = self.create()
        if not self.is_running(info):
            bindir = find_bindir()
            for _attempt in range(3):
                port = info.port
                options = (
                    f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
                )
                log = str(Path(info.data_dir).parent / "postgres.log")
                result = self._run(
                    str(bindir / "pg_ctl"),
                    "-D",
                    info.data_dir,
                    "-l",
                    log,
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                    check=False,
                )
                if result.returncode == 0:
                    break
                # The remembered port may be taken by now: pick another one and try again.
                info = PostgresInfo(**{**asdict(info), "port": free_port()})
                self.state_file.write_text(json.dumps(asdict(info), indent=2))
            else:
                raise ServiceError(
                    f"PostgreSQL did not start; see {Path(info.data_dir).parent / 'postgres.log'}"
                )
        self._ensure_database(info)
        return info

    def _ensure_database(self, info: PostgresInfo) -> None:
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host=info.host,
                    port=info.port,
                    user=info.user,
                    password=info.password,
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=5,
                ) as conn:
                    exists = conn.execute(
                        "select 1 from pg_database where datname = %s", (info.database,)
                    ).fetchone()
                    if not exists:
                        conn.execute(sql.SQL("create database {}").format(sql.Identifier(info.database)))
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"cannot connect to the local PostgreSQL at {info.redacted()}: {exc}"
                    ) from exc
                time.sleep(0.5)

    def stop(self) -> None:
        info = self._load()
        if info and self.is_running(info):
            self._run(str(find_bindir() / "pg_ctl"), "-D", info.data_dir, "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop the cluster and delete its data: the data directory in the lake, or the private temp folder
        that holds it when the lake's parent folders are closed to the service user (deleting the lake alone
        would leave that folder behind)."""
        if not self.state_file.exists():
            return
        self.stop()
        data_dir = Path(json.loads(self.state_file.read_text())["data_dir"])
        private = data_dir.parent
        if private != self.home and private.name.startswith(PRIVATE_PREFIX):
            shutil.rmtree(private, ignore_errors=True)
        elif data_dir.parent == self.home:
            shutil.rmtree(data_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)


def destroy_clusters_under(folder: str | Path) -> int:
    """Destroy the local cluster of every lake found under ``folder`` (at any depth), before the folder is
    deleted: a cluster's data may live outside its lake. Returns how many there were."""
    states = list(Path(folder).glob(f"**/{SERVICES_FOLDER}/postgres/cluster.json"))
    for state in states:
        PostgresCluster(str(state.parents[2])).destroy()
    return len(states)
