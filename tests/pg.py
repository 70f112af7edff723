"""A real PostgreSQL for the tests: Debian's postgresql-15 binaries, a cluster initialized in a
temporary directory, run as a non-root user on 127.0.0.1 and a free port, trust authentication
on loopback only. Each test takes a fresh database of its own (`PgServer.new_database`), dropped
after it (`PgServer.drop_database`).

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


def _cluster_parent() -> str | None:
    """Where the cluster's directory goes: /dev/shm when it is a tmpfs with room, else the
    default temporary directory (None). Each test creates a database, about 300 files: ~10 ms
    in memory against ~150 ms on this disk (measured with fsync off), which was most of the
    time a PostgreSQL test took. Databases are dropped after their test, so a few hundred MB
    suffice."""
    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= 1 << 30:
            return str(shm)
    except OSError:
        pass
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster, from start() to stop()."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="brickyard-pg-", dir=_cluster_parent()))
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
            # Bounds the WAL kept between checkpoints (it may live in memory, see above).
            "-c max_connections=200 -c max_wal_size=256MB"
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

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL (postgresql+psycopg://...)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        # FILE_COPY: the copy of template1 is not written to the WAL (PostgreSQL 15's default,
        # WAL_LOG, writes its 7.5 MB there for every database).
        self._admin(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database new_database made, ending any connection a test left open."""
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def as_url(db: str) -> str:
    """glusterfs.db as the server reads it: a URL, or the path of an SQLite file."""
    from brickyard.store.sql import sqlite_url

    return db if "://" in db else sqlite_url(db)
