"""Run a real Apache Airflow 3.3.2 api-server as the reference for xcomkit.

xcomkit answers the XCom REST API as Airflow 3.3.2 does; the surest spec is the real
server. This module brings one up on a free loopback port with the DAGs and DAG runs
of ``tests/data/manifest.yaml`` and hands out a bearer token per role.

Use from Python::

    from compat.airflow_ref import reference_airflow
    with reference_airflow() as ref:
        httpx.get(ref.base_url + "/api/v2/version", headers=ref.auth_headers("admin"))

or from a shell (prints the base URL and one token per role, then waits for Ctrl-C)::

    .venv/bin/python compat/airflow_ref.py up

Only the standard library, httpx and PyYAML are needed here: Airflow itself runs in its
own virtual environment (``$XCOMKIT_AIRFLOW_VENV``, default
``~/.cache/xcomkit/airflow-3.3.2``), created on first use, through subprocesses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

AIRFLOW_VERSION = "3.3.2"
REQUIREMENTS = (
    f"apache-airflow=={AIRFLOW_VERSION}",
    f"apache-airflow-client=={AIRFLOW_VERSION}",
)
# Present only after the pip install into the reference venv finished without error.
MARKER_NAME = ".xcomkit-airflow-installed"
ROLES = ("admin", "viewer", "user", "op")  # simple auth manager: each user is named after its role
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = REPO_ROOT / "tests" / "data" / "manifest.yaml"


class ReferenceStartError(RuntimeError):
    """The reference Airflow could not be installed, started or seeded."""


def venv_dir() -> Path:
    """The reference venv: ``$XCOMKIT_AIRFLOW_VENV`` or ``~/.cache/xcomkit/airflow-3.3.2``."""
    configured = os.environ.get("XCOMKIT_AIRFLOW_VENV")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "xcomkit" / f"airflow-{AIRFLOW_VERSION}"


def _venv_has_airflow(python: Path) -> bool:
    probe = (
        "import airflow, airflow_client.client, sys; "
        f"sys.exit(0 if airflow.__version__ == {AIRFLOW_VERSION!r} else 1)"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, timeout=120)
    return result.returncode == 0


def ensure_venv(path: Path | None = None, extra: tuple[str, ...] = ()) -> Path:
    """Create or reuse the reference venv; return its directory.

    A marker file written after a successful install makes later calls cheap. A venv
    without the marker that already imports Airflow 3.3.2 and its client (installed by
    hand, say) is adopted and marked instead of reinstalled. ``extra`` names more
    packages to install (e.g. ``("psycopg2-binary", "asyncpg")`` for PostgreSQL); they are
    installed every call where the marker does not list them.

    Raises ReferenceStartError if venv creation or pip fails.
    """
    path = path or venv_dir()
    marker = path / MARKER_NAME
    python = path / "bin" / "python"
    wanted = list(REQUIREMENTS) + list(extra)
    if marker.exists():
        recorded = set(marker.read_text().split())
        if set(wanted) <= recorded:
            return path
    elif python.exists() and not extra and _venv_has_airflow(python):
        marker.write_text("\n".join(wanted) + "\n")
        return path
    if not python.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", str(path)], "create the reference venv")
    _run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], "upgrade pip")
    _run([str(python), "-m", "pip", "install", "--quiet", *wanted], "install Airflow")
    recorded = set(marker.read_text().split()) if marker.exists() else set()
    marker.write_text("\n".join(sorted(recorded | set(wanted))) + "\n")
    return path


def _run(
    cmd: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 1800
) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if result.returncode != 0:
        raise ReferenceStartError(
            f"could not {what}: {' '.join(cmd)} exited {result.returncode}\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def load_manifest(path: Path = DEFAULT_MANIFEST) -> dict[str, Any]:
    """The manifest as a dict with ``dags`` and ``runs`` lists (see tests/data/manifest.yaml)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    data.setdefault("dags", [])
    data.setdefault("runs", [])
    return data


def dag_file_source(manifest: dict[str, Any]) -> str:
    """Python source of an Airflow DAG file declaring the manifest's DAGs.

    Each DAG: schedule None, start_date 2024-01-01 UTC, its tasks as EmptyOperators in
    manifest order chained one after the other. Display names are set only where the
    manifest gives them (Airflow then defaults them to the ids).
    """
    lines = [
        "# Generated by xcomkit compat/airflow_ref.py from the test manifest. Do not edit.",
        "import pendulum",
        "from airflow.sdk import DAG, chain",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        "",
    ]
    for dag in manifest["dags"]:
        kwargs = [f"dag_id={dag['dag_id']!r}"]
        if dag.get("dag_display_name"):
            kwargs.append(f"dag_display_name={dag['dag_display_name']!r}")
        kwargs += ["schedule=None", 'start_date=pendulum.datetime(2024, 1, 1, tz="UTC")']
        lines.append(f"with DAG({', '.join(kwargs)}):")
        tasks = []
        for task in dag.get("tasks", []):
            targs = [f"task_id={task['task_id']!r}"]
            if task.get("task_display_name"):
                targs.append(f"task_display_name={task['task_display_name']!r}")
            tasks.append(f"EmptyOperator({', '.join(targs)})")
        if tasks:
            lines.append("    chain(")
            lines += [f"        {t}," for t in tasks]
            lines.append("    )")
        else:
            lines.append("    pass")
        lines.append("")
    return "\n".join(lines)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class ReferenceAirflow:
    """A running reference api-server.

    ``base_url`` has no trailing slash (``http://127.0.0.1:PORT``); ``passwords`` maps
    user name (= role) to its generated password; ``home`` is AIRFLOW_HOME.
    """

    base_url: str
    home: Path
    passwords: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    jwt_secret: str = ""
    _tokens: dict[str, str] = field(default_factory=dict)
    _owns_home: bool = True

    def token(self, role: str = "admin") -> str:
        """A fresh-enough JWT for the user named ``role`` (cached per role)."""
        if role not in self._tokens:
            response = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": role, "password": self.passwords[role]},
                timeout=30,
            )
            if response.status_code != 201:
                raise ReferenceStartError(
                    f"login as {role}: {response.status_code} {response.text}"
                )
            self._tokens[role] = response.json()["access_token"]
        return self._tokens[role]

    def auth_headers(self, role: str = "admin") -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for ``role``."""
        return {"Authorization": f"Bearer {self.token(role)}"}

    def stop(self) -> None:
        """Stop the api-server (its whole process group) and wait for it."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def cleanup(self) -> None:
        """Stop the server and remove AIRFLOW_HOME if this object created it."""
        self.stop()
        if self._owns_home:
            shutil.rmtree(self.home, ignore_errors=True)


def airflow_env(
    home: Path, dags_folder: Path, jwt_secret: str, db_url: str | None
) -> dict[str, str]:
    """The environment for every ``airflow`` subprocess of one reference instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{r}:{r}" for r in ROLES),
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if db_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db_url
    return env


def _wait_ready(proc: subprocess.Popen[bytes], base_url: str, log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    delay = 0.1
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ReferenceStartError(
                f"api-server exited with {proc.returncode}; log tail:\n{log.read_text()[-4000:]}"
            )
        try:
            response = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=2)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise ReferenceStartError(
        f"api-server not ready in {deadline_s}s; log tail:\n{log.read_text()[-4000:]}"
    )


def _wait_passwords(home: Path, deadline_s: float = 30) -> dict[str, str]:
    path = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            passwords = json.loads(path.read_text())
            if all(role in passwords for role in ROLES):
                return passwords
        time.sleep(0.1)
    raise ReferenceStartError(f"no complete passwords file at {path}")


def create_runs(ref: ReferenceAirflow, runs: list[dict[str, Any]]) -> None:
    """POST each manifest run to /api/v2/dags/{dag_id}/dagRuns (409 = already there)."""
    with httpx.Client(base_url=ref.base_url, headers=ref.auth_headers("admin"), timeout=30) as c:
        for run in runs:
            body = {"dag_run_id": run["dag_run_id"], "logical_date": run.get("logical_date")}
            response = c.post(f"/api/v2/dags/{run['dag_id']}/dagRuns", json=body)
            if response.status_code not in (200, 409):
                raise ReferenceStartError(
                    f"create run {run}: {response.status_code} {response.text}"
                )


def start_reference(
    manifest_path: Path = DEFAULT_MANIFEST,
    home: Path | None = None,
    port: int | None = None,
    db_url: str | None = None,
    ready_timeout: float = 180,
) -> ReferenceAirflow:
    """Install (if needed), set up, start and seed a reference Airflow; return it running.

    The caller must call ``cleanup()`` (or use ``reference_airflow()``). ``db_url`` is an
    SQLAlchemy URL for Airflow's metadata database (SQLite under AIRFLOW_HOME if None);
    for PostgreSQL the venv also gets psycopg2-binary and asyncpg.
    Raises ReferenceStartError on any failure, with the relevant log tail.
    """
    extra = ("psycopg2-binary", "asyncpg") if db_url and db_url.startswith("postgres") else ()
    venv = ensure_venv(extra=extra)
    airflow = str(venv / "bin" / "airflow")
    owns_home = home is None
    home = Path(home or tempfile.mkdtemp(prefix="xcomkit-airflow-"))
    home.mkdir(parents=True, exist_ok=True)
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    manifest = load_manifest(manifest_path)
    (dags / "xcomkit_manifest_dags.py").write_text(dag_file_source(manifest))
    jwt_secret = secrets.token_hex(32)
    env = airflow_env(home, dags, jwt_secret, db_url)
    ref = ReferenceAirflow(
        base_url="", home=home, passwords={}, jwt_secret=jwt_secret, _owns_home=owns_home
    )
    try:
        _run([airflow, "db", "migrate"], "migrate the Airflow database", env=env, timeout=600)
        _run([airflow, "dags", "reserialize"], "serialize the DAGs", env=env, timeout=600)
        port = port or free_port()
        ref.base_url = f"http://127.0.0.1:{port}"
        log = home / "api-server.log"
        with open(log, "wb") as out:
            ref.process = subprocess.Popen(
                [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_ready(ref.process, ref.base_url, log, ready_timeout)
        ref.passwords = _wait_passwords(home)
        create_runs(ref, manifest["runs"])
    except BaseException:
        ref.cleanup()
        raise
    return ref


@contextlib.contextmanager
def reference_airflow(**kwargs: Any) -> Iterator[ReferenceAirflow]:
    """Context manager around start_reference(**kwargs); stops and cleans up on exit."""
    ref = start_reference(**kwargs)
    try:
        yield ref
    finally:
        ref.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the reference, print URL and tokens, wait for Ctrl-C")
    up.add_argument("--port", type=int, default=None)
    up.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    up.add_argument("--db-url", default=None, help="SQLAlchemy URL (default: SQLite)")
    up.add_argument("--home", type=Path, default=None, help="AIRFLOW_HOME (default: temp dir)")
    sub.add_parser("venv", help="create/reuse the reference venv and print its path")
    args = parser.parse_args(argv)
    if args.command == "venv":
        print(ensure_venv())
        return 0
    ref = start_reference(
        manifest_path=args.manifest, home=args.home, port=args.port, db_url=args.db_url
    )
    try:
        print(f"base_url={ref.base_url}")
        print(f"airflow_home={ref.home}")
        for role in ROLES:
            print(f"password_{role}={ref.passwords[role]}")
            print(f"token_{role}={ref.token(role)}")
        print("ready; Ctrl-C to stop", flush=True)
        stop = False

        def _stop(*_: Any) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop and ref.process is not None and ref.process.poll() is None:
                time.sleep(0.5)
    finally:
        ref.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
