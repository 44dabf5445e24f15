"""A throw-away PostgreSQL cluster for tests: initdb in a temp dir, started on a free port.

Uses the server programs of the machine's PostgreSQL packages (``initdb``, ``pg_ctl``
under /usr/lib/postgresql/*/bin or on PATH); when run as root, the cluster runs as the
``postgres`` user. ``find_bin`` returns None where PostgreSQL is not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


def find_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def temporary_cluster() -> Iterator[str]:
    """Start a cluster; yield a ``postgresql+psycopg://`` URL of its ``postgres`` database."""
    bindir = find_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server programs (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="xcomkit-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-w",
                "-t",
                "60",
                "-l",
                str(root / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    _CLUSTERS[url] = (bindir, data, opts, root)
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres").close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
        _CLUSTERS.pop(url, None)


#: Running clusters by admin URL: (bindir, data directory, server options, root).
_CLUSTERS: dict[str, tuple[Path, Path, str, Path]] = {}


def restart(admin_url: str, mode: str = "immediate") -> None:
    """Restart the temporary cluster of ``admin_url`` (``pg_ctl restart -m mode``): with
    ``immediate``, as a crash would, the server stops without a checkpoint."""
    bindir, data, opts, root = _CLUSTERS[admin_url]
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                mode,
                "-o",
                opts,
                "-w",
                "-l",
                str(root / "log"),
                "restart",
            ]
        ),
        check=True,
        capture_output=True,
    )


def _plain(admin_url: str) -> str:
    return admin_url.replace("postgresql+psycopg://", "postgresql://")


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """CREATE DATABASE ``name`` (from ``template``); return its SQLAlchemy URL."""
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE ``name`` if it exists, ending any session still connected to it."""
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
