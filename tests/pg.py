"""A real PostgreSQL for the tests: Debian's postgresql-15 binaries, a cluster initialized in a
temporary directory, run as a non-root user on 127.0.0.1 and a free port, trust authentication
on loopback only. Each test takes a fresh database of its own (`PgServer.new_database`).

Without the binaries the PostgreSQL tests are skipped with the reason, except in CI (CI=true),
where a missing PostgreSQL is a failure (`make install-postgres` installs it)."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("BRICKYARD_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "brickyard"
RUN_AS = "postgres"  # the system user the server runs as when the tests run as root


class PgUnavailable(Exception):
    """Why no PostgreSQL can be started here."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster, from start() to stop()."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="brickyard-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count()
        self._as_user: list[str] = []

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self._as_user, *argv], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PgUnavailable(f"{' '.join(argv)}: {done.stderr.strip()}\n{tail}")

    def start(self) -> None:
        if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
            raise PgUnavailable(
                f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): "
                "apt-get install postgresql-15, or `make install-postgres`"
            )
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            try:
                pwd.getpwnam(RUN_AS)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", RUN_AS],
                    check=True,
                    capture_output=True,
                )
            self._as_user = ["runuser", "-u", RUN_AS, "--"]
            shutil.chown(self.root, RUN_AS)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        # Trust on loopback only (and the socket in our own directory): nothing else listens.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        self.resume()

    def resume(self) -> None:
        """Start the (initialised) cluster: at start, or again after halt()."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (a PostgreSQL restart: halt(), then resume())."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def as_url(db: str) -> str:
    """glusterfs.db as the server reads it: a URL, or the path of an SQLite file."""
    from brickyard.store.sql import sqlite_url

    return db if "://" in db else sqlite_url(db)
