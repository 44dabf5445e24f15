"""The compatibility job (``make compat``): every case answered by Airflow 3.3.2 and xcomkit.

Brings up a reference Apache Airflow 3.3.2 (compat/airflow_ref.py, on SQLite) and two
xcomkit servers (``xcomkit serve`` on free ports): one on a temporary SQLite database,
one on a throw-away PostgreSQL cluster (tests/pg.py), all with the DAGs of
tests/data/manifest.yaml and the same DAG runs, created on each through
``POST /api/v2/dags/{dag_id}/dagRuns`` so the runs' fields (run_after, triggered_by,
triggering_user_name) are made the same way. Then sends each case of compat/cases.py to
Airflow once and to each xcomkit, in order (lockstep), and compares status, content type
and parsed body after normalizing the values that must differ (see :func:`normalize`).
Then runs examples/seed_example.py (official apache-airflow-client) against every
server, the client test suites (:data:`CLIENT_TESTS`) against the live Airflow, the same
``xcomkit xcom`` commands against each (compat/cli_check.py), airflowctl's ``dagrun``
and ``xcom`` commands against each (outputs compared, compat/airflowctl_run.py), and
raw-HTTP connection checks against each (compat/raw_http.py). Airflow runs each of
these once; each xcomkit is compared with that one answer.

Prints, per xcomkit backend: cases, equal, documented divergences, unexpected
differences (each as a unified diff of the two normalized answers), 5xx from xcomkit.
Exits 1 on any backend's unexpected difference, xcomkit 5xx, documented divergence not
met (on PostgreSQL, compat.cases.ON_POSTGRESQL adds the answers that follow the
database), divergence that docs/compatibility.md does not list (a documented case
without its row, or an entry of compat.cases.OTHER_DIVERGENCES), or failed
seed/client run.

    .venv/bin/python compat/run.py [--backends sqlite,postgresql] [--json-out FILE]
        [--skip-clients] [--write-doc docs/compatibility.md]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from compat.airflow_ref import (
    DEFAULT_MANIFEST,
    ROLES,
    create_runs,
    free_port,
    load_manifest,
    start_reference,
)
from compat.airflowctl_run import VERSION as ctl_version
from compat.airflowctl_run import compare_results as ctl_results_compare
from compat.airflowctl_run import ensure_airflowctl
from compat.airflowctl_run import run_commands as ctl_commands
from compat.cases import ANY, ON_POSTGRESQL, OTHER_DIVERGENCES, UNSET, Case, all_cases
from compat.cli_check import compare as cli_compare
from compat.cli_check import run_script as cli_script
from compat.observe_airflow import make_jwt
from compat.raw_http import checks as raw_checks
from compat.raw_http import run_check

REPO = Path(__file__).resolve().parent.parent
#: The document that must list every divergence the job knows.
DOC = REPO / "docs" / "compatibility.md"
BIN = Path(sys.executable).parent
#: Response headers that are part of the compared answer when a case asks for them.
NORMALIZED_KEYS = {
    "timestamp": "<timestamp>",
    "run_after": "<run_after>",
    "queued_at": "<queued_at>",
    "dag_versions": "<dag_versions>",
    "git_version": "<git_version>",
    "access_token": "<jwt>",
    # Set by a state change, at each server's own clock.
    "end_date": "<end_date>",
    # Cursors hold sort keys, and so the normalized times above; each server's own are
    # followed by the cases that use "{next_cursor}" and "{previous_cursor}".
    "next_cursor": "<cursor>",
    "previous_cursor": "<cursor>",
}
GENERATED_RUN_ID = re.compile(r"manual__\d{4}-\d\d-\d\dT[0-9:.]+\+00:00")
ERROR_ID = re.compile(r"look for ID [A-Za-z0-9_-]+")


# ---------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------


@dataclass
class Server:
    """One side of the comparison: base URL, passwords, JWT secret and token style."""

    name: str
    base_url: str
    passwords: dict[str, str]
    jwt_secret: str
    audience: str
    issuer: str | None
    _tokens: dict[str, str] = field(default_factory=dict)
    _client: httpx.Client | None = None
    #: The cursors of this server's last DAG-run list answer ("{next_cursor}" in a case).
    cursors: dict[str, str] = field(default_factory=dict)
    #: For xcomkit, the database it runs on ("sqlite", "postgresql").
    backend: str = ""

    def client(self) -> httpx.Client:
        """A client that opens a new connection per request (no keep-alive), so a 5xx
        that makes Airflow drop its connection cannot spill onto the next case."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=self.base_url,
                timeout=60,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._client

    def token(self, role: str) -> str:
        if role not in self._tokens:
            r = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": role, "password": self.passwords[role]},
                timeout=30,
            )
            if r.status_code != 201:
                raise RuntimeError(f"{self.name}: login as {role}: {r.status_code} {r.text}")
            self._tokens[role] = r.json()["access_token"]
        return self._tokens[role]

    def auth_headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def forge(self, kind: str) -> str:
        """A token of ``kind`` (see compat.cases.FORGE_KINDS) in this server's own style."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": "admin",
            "role": "admin",
            "jti": uuid.uuid4().hex,
            "aud": self.audience,
            "nbf": now,
            "exp": now + 3600,
            "iat": now,
        }
        if self.issuer:
            claims["iss"] = self.issuer
        else:
            claims["teams"] = []
        secret, alg = self.jwt_secret, "HS512"
        if kind == "expired":
            claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        elif kind == "other_secret":
            secret = secrets.token_hex(32)
        elif kind == "alg_none":
            alg = "none"
        elif kind == "hs256":
            alg = "HS256"
        elif kind == "no_aud":
            del claims["aud"]
        elif kind == "wrong_aud":
            claims["aud"] = "someone-else"
        elif kind == "no_exp":
            del claims["exp"]
        elif kind == "nbf_future":
            claims["nbf"] = now + 3600
        elif kind == "no_role":
            del claims["role"]
        elif kind == "sub_viewer_role_admin":
            claims["sub"] = "viewer"
        elif kind == "sub_nobody_role_admin":
            claims["sub"] = "nobody"
        elif kind == "role_viewer":
            claims.update(sub="viewer", role="viewer")
        elif kind != "valid_admin":
            raise ValueError(f"unknown forge kind {kind!r}")
        return make_jwt(claims, secret, alg)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"xcomkit exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"xcomkit not ready in {deadline_s}s:\n{log.read_text()[-4000:]}")


#: The databases xcomkit is compared on, in the order the job reports them.
BACKENDS = ("sqlite", "postgresql")


@contextlib.contextmanager
def xcomkit_server(manifest_path: Path, backend: str = "sqlite") -> Iterator[Server]:
    """``xcomkit serve`` on a free port over a fresh database with the manifest's DAGs.

    ``backend`` is ``"sqlite"`` (a new file in a temporary directory) or ``"postgresql"``
    (a throw-away cluster of the machine's PostgreSQL, tests/pg.py, stopped on exit).
    The manifest's runs are not loaded from the file but created over the API afterwards
    (as on the reference), so both servers' runs carry the same fields.

    Raises:
        RuntimeError: PostgreSQL is asked for but not installed, or the server did not
            start.
    """
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            from tests import pg

            admin_url = stack.enter_context(pg.temporary_cluster())
            db = pg.create_database(admin_url, "xcomkit_compat")
        elif backend == "sqlite":
            db = ""
        else:
            raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")
        yield stack.enter_context(_serve(manifest_path, backend, db))


@contextlib.contextmanager
def _serve(manifest_path: Path, backend: str, db: str) -> Iterator[Server]:
    tmp = Path(tempfile.mkdtemp(prefix="xcomkit-compat-"))
    db = db or f"sqlite:///{tmp / 'xcomkit.db'}"
    manifest = load_manifest(manifest_path)
    dags_only = tmp / "dags.yaml"
    dags_only.write_text(yaml.safe_dump({"dags": manifest["dags"]}))
    xcomkit = str(BIN / "xcomkit")
    passwords = {role: f"{role}-password" for role in ROLES}
    secret = secrets.token_hex(32)
    env = {
        **os.environ,
        "XCOMKIT_JWT_SECRET": secret,
        # Airflow has no login rate limit, and the cases log in with wrong passwords
        # many times: compared with it off (docs/compatibility.md lists the limit).
        "XCOMKIT_LOGIN_FAILURES_PER_USER": "0",
        "XCOMKIT_LOGIN_FAILURES_PER_CLIENT": "0",
    }
    for role in ROLES:
        subprocess.run(
            [
                xcomkit,
                "users",
                "create",
                role,
                "--role",
                role,
                "--password",
                passwords[role],
                "--db",
                db,
            ],
            check=True,
            capture_output=True,
            env=env,
        )
    port = free_port()
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [xcomkit, "serve", "--db", db, "--dags", str(dags_only), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/api/v2/monitor/health", proc, log, 60)
        server = Server(
            f"xcomkit on {backend}",
            base,
            passwords,
            secret,
            "xcomkit-api",
            "xcomkit",
            backend=backend,
        )
        create_runs(server, manifest["runs"])  # type: ignore[arg-type]
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Sending and comparing
# ---------------------------------------------------------------------------------------


def _substitute(value: Any, server: Server) -> Any:
    """Replace ``{password:<role>}`` in strings (at any depth) with the server's password."""
    if isinstance(value, str):
        return re.sub(r"\{password:(\w+)\}", lambda m: server.passwords[m.group(1)], value)
    if isinstance(value, list):
        return [_substitute(v, server) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, server) for k, v in value.items()}
    return value


def auth_header(case: Case, server: Server) -> str | None:
    if case.auth is None:
        return None
    if case.auth.startswith("raw:"):
        raw = case.auth[4:]
        return raw.replace("{token}", server.token("admin")) if "{token}" in raw else raw
    if case.auth.startswith("forge:"):
        return f"Bearer {server.forge(case.auth[6:])}"
    return f"Bearer {server.token(case.auth)}"


@dataclass
class Answer:
    status: int | str
    content_type: str | None
    body: Any
    headers: dict[str, str]

    def as_dict(self, header_names: tuple[str, ...] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "content_type": self.content_type}
        for name in header_names:
            out[name] = self.headers.get(name)
        out["body"] = self.body
        return out


def send(case: Case, server: Server) -> Answer:
    """Send one case on a fresh connection (a 5xx in Airflow may poison keep-alive)."""
    headers = dict(case.headers)
    auth = auth_header(case, server)
    if auth is not None:
        headers["Authorization"] = auth
    params = case.params
    if params:
        params = [
            (
                k,
                re.sub(
                    r"\{(next_cursor|previous_cursor)\}", lambda m: server.cursors.get(m[1], ""), v
                ),
            )
            for k, v in params
        ]
    kwargs: dict[str, Any] = {"headers": headers, "params": params}
    if case.content is not None:
        content = case.content
        if isinstance(content, str):
            content = _substitute(content, server).encode()
        kwargs["content"] = content
        if case.content_type:
            headers["Content-Type"] = case.content_type
    elif case.json is not UNSET:
        kwargs["content"] = json.dumps(_substitute(case.json, server)).encode()
        headers["Content-Type"] = case.content_type or "application/json"
    if case.target is not None:
        kwargs["extensions"] = {"target": case.target.encode()}
    client = server.client()
    request = client.build_request(case.method, case.path, **kwargs)
    try:
        response = client.send(request)
    except httpx.HTTPError as exc:
        return Answer(f"transport error: {type(exc).__name__}", None, str(exc), {})
    ctype = response.headers.get("content-type")
    body: Any
    if not response.content:
        body = ""
    elif ctype and "json" in ctype:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = response.text
    elif ctype and ctype.startswith("text/html"):
        body = "<html page>"
    else:
        body = response.text
    if isinstance(body, dict) and "next_cursor" in body:
        server.cursors = {name: body[name] or "" for name in ("next_cursor", "previous_cursor")}
    return Answer(response.status_code, ctype, body, dict(response.headers))


DEFAULT_XCOM_ORDER = ("dag_id", "task_id", "run_id", "map_index", "key")


def untie(case: Case, body: Any) -> Any:
    """Sort an XCom list's entries within runs of equal sort keys, by their identity.

    Airflow orders by the requested ``order_by`` then by the DAG run's integer id; rows
    that tie on both come in whatever order the database's plan yields (on SQLite: rowid
    order for a table scan, primary-key order for an index scan), so that order is not
    part of the contract. The requested order and the per-run order are still compared.
    """
    if not (isinstance(body, dict) and isinstance(body.get("xcom_entries"), list)):
        return body
    fields = [v.lstrip("-") for k, v in (case.params or []) if k == "order_by"]
    fields = fields or list(DEFAULT_XCOM_ORDER)
    entries = body["xcom_entries"]

    def group(e: dict[str, Any]) -> tuple[Any, ...]:
        return (*(str(e.get(f)) for f in fields), e.get("dag_id"), e.get("run_id"))

    def identity(e: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(str(e.get(f)) for f in DEFAULT_XCOM_ORDER)

    out: list[Any] = []
    i = 0
    while i < len(entries):
        j = i
        while j < len(entries) and group(entries[j]) == group(entries[i]):
            j += 1
        out += sorted(entries[i:j], key=identity)
        i = j
    return {**body, "xcom_entries": out}


def normalize(value: Any) -> Any:
    """Replace what must differ between two servers: times, generated ids, JWTs."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if (k in NORMALIZED_KEYS and v is not None and v != []) or k == "dag_versions":
                out[k] = NORMALIZED_KEYS[k]
            else:
                out[k] = normalize(v)
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        value = GENERATED_RUN_ID.sub("manual__<generated>", value)
        return ERROR_ID.sub("look for ID <error-id>", value)
    return value


def _dump(d: dict[str, Any]) -> list[str]:
    return json.dumps(d, indent=2, ensure_ascii=False, sort_keys=False).splitlines()


def _matches(expected: tuple[int, Any], answer: Answer) -> bool:
    status, body = expected
    if answer.status != status:
        return False
    norm = normalize(answer.body)
    if body is ANY:
        return True
    if callable(body):
        try:
            return bool(body(norm))
        except Exception:
            return False
    return bool(norm == body)


def _describe(expected: tuple[int, Any]) -> str:
    status, body = expected
    if body is ANY:
        return f"{status} (any body)"
    if callable(body):
        return f"{status} where {body.__doc__ or body.__name__}"
    return f"{status} {json.dumps(body, ensure_ascii=False)}"


@dataclass
class Outcome:
    case: Case
    airflow: Answer
    xcomkit: Answer
    verdict: str  # "equal", "documented", "unexpected", "documented-not-met"
    diff: str = ""


def compare(case: Case, airflow: Answer, xcomkit: Answer) -> Outcome:
    a = normalize(airflow.as_dict(case.compare_headers))
    x = normalize(xcomkit.as_dict(case.compare_headers))
    a["body"] = normalize(untie(case, airflow.body))
    x["body"] = normalize(untie(case, xcomkit.body))
    diff = "\n".join(
        difflib.unified_diff(_dump(a), _dump(x), "airflow", "xcomkit", lineterm="", n=3)
    )
    if case.expect_xcomkit is not None:
        if _matches(case.expect_xcomkit, xcomkit):
            return Outcome(case, airflow, xcomkit, "documented", diff)
        diff = (
            f"documented xcomkit answer: {_describe(case.expect_xcomkit)}\n"
            f"xcomkit answered: {json.dumps(x, ensure_ascii=False)}\n"
            f"airflow answered: {json.dumps(a, ensure_ascii=False)}"
        )
        return Outcome(case, airflow, xcomkit, "documented-not-met", diff)
    if a == x and type_exact(a, x):
        return Outcome(case, airflow, xcomkit, "equal")
    return Outcome(case, airflow, xcomkit, "unexpected", diff or "(differ only in number types)")


def type_exact(a: Any, b: Any) -> bool:
    """Python's ``==`` says 1 == 1.0 == True; JSON answers must match in type as well."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(type_exact(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(type_exact(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return True


def describe_request(case: Case) -> str:
    req = httpx.Request(case.method, "http://h" + case.path, params=case.params)
    line = f"{case.method} {case.target or req.url.raw_path.decode()}"
    if case.auth != "admin":
        line += f"  [auth: {case.auth}]"
    if case.content is not None:
        shown = case.content if isinstance(case.content, str) else repr(case.content)
        line += f"  body: {shown[:200]}"
        if case.content_type:
            line += f"  ({case.content_type})"
    elif case.json is not UNSET:
        line += f"  json: {_abbreviate(json.dumps(case.json, ensure_ascii=False))[:200]}"
    return _abbreviate(line)


# ---------------------------------------------------------------------------------------
# Official client runs
# ---------------------------------------------------------------------------------------


def run_seed_example(server: Server) -> tuple[bool, str]:
    env = {
        **os.environ,
        "XCOMKIT_URL": server.base_url,
        "ACCESS_TOKEN": server.token("admin"),
        "DAG_RUN_ID": "run_1",
    }
    r = subprocess.run(
        [sys.executable, str(REPO / "examples" / "seed_example.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=REPO,
    )
    return r.returncode == 0, (r.stdout + r.stderr)[-3000:]


#: The client tests run against the live Airflow (their ``live_server`` is Airflow there):
#: the drop-in's, the modern client's, and every client pushing and pulling alike.
CLIENT_TESTS = ("tests/client", "tests/modern", "tests/system/test_clients_agree.py")


def run_client_tests(airflow: Server) -> tuple[bool, str]:
    users = {role: [role, airflow.passwords[role]] for role in ROLES}
    env = {
        **os.environ,
        "XCOMKIT_TARGET_URL": airflow.base_url,
        "XCOMKIT_TARGET_USERS": json.dumps(users),
    }
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *CLIENT_TESTS,
            "-m",
            "not xcomkit_only",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        cwd=REPO,
    )
    return r.returncode == 0, (r.stdout + r.stderr)[-6000:]


# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--json-out", type=Path, help="write every case's answers as JSON")
    parser.add_argument(
        "--skip-clients",
        action="store_true",
        help="skip examples/seed_example.py and the client tests",
    )
    parser.add_argument(
        "--write-doc",
        type=Path,
        help="write the table of documented divergences, as answered now, to this file "
        "(docs/compatibility.md)",
    )
    parser.add_argument(
        "--show-documented",
        action="store_true",
        help="also print the diff of every documented divergence",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help=f"comma-separated databases to run xcomkit on (default: {','.join(BACKENDS)})",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown or not backends:
        parser.error(f"--backends: unknown {unknown}; choose from {','.join(BACKENDS)}")
    cases = all_cases()
    print(
        f"compat: {len(cases)} cases; starting Airflow 3.3.2 and xcomkit on "
        f"{', '.join(backends)} ...",
        flush=True,
    )
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        # Airflow starts in the background while the xcomkit servers start.
        pool = stack.enter_context(ThreadPoolExecutor(1))
        starting = pool.submit(start_reference, manifest_path=args.manifest)
        stack.callback(lambda: starting.exception() is None and starting.result().cleanup())
        xks = [stack.enter_context(xcomkit_server(args.manifest, b)) for b in backends]
        ref = starting.result()
        af = Server("airflow", ref.base_url, ref.passwords, ref.jwt_secret, "apache-airflow", None)
        print(
            f"compat: servers up in {time.monotonic() - t0:.0f}s (airflow {af.base_url}, "
            + ", ".join(f"{xk.name} {xk.base_url}" for xk in xks)
            + ")",
            flush=True,
        )
        results = run_all(cases, af, xks, skip_clients=args.skip_clients)
    print(f"compat: done in {time.monotonic() - t0:.0f}s", flush=True)
    if args.json_out:
        answers = {b: json_answers(r[0]) for b, r in zip(backends, results, strict=True)}
        args.json_out.write_text(json.dumps(answers, indent=1, ensure_ascii=True, default=str))
    if args.write_doc:
        # From the first backend: the documented answers are the same on every backend
        # (a backend that answers otherwise fails its "documented answers not met").
        by_backend = {b: r[0] for b, r in zip(backends, results, strict=True)}
        args.write_doc.write_text(
            compatibility_doc(results[0][0], by_backend.get("postgresql")),
            errors="backslashreplace",
        )
    codes = [
        report(outcomes, clients, args, raw, backend=b)
        for b, (outcomes, clients, raw) in zip(backends, results, strict=True)
    ]
    return max(codes)


#: What one xcomkit backend is judged on: the cases' outcomes, the client runs
#: (name, ok, output) and the raw-HTTP checks (name, diff).
BackendResult = tuple[list["Outcome"], list[tuple[str, bool, str]], list[tuple[str, str]]]


def for_backend(case: Case, backend: str) -> Case:
    """``case`` as judged on ``backend``: on PostgreSQL, the cases of
    compat.cases.ON_POSTGRESQL expect that answer (Airflow on PostgreSQL's) instead."""
    if backend == "postgresql" and case.name in ON_POSTGRESQL:
        expected, why = ON_POSTGRESQL[case.name]
        return dataclasses.replace(case, expect_xcomkit=expected, why=why)
    return case


def run_all(
    cases: list[Case], af: Server, xks: list[Server], *, skip_clients: bool = False
) -> list[BackendResult]:
    """Every check, with the reference Airflow asked once and each xcomkit in lockstep.

    Each case goes to Airflow once and then to every xcomkit server, in the order of
    compat/cases.py, so each server sees the same sequence of requests (the cases build
    on what earlier cases wrote) while Airflow, the slow side, runs it once. The client
    runs follow: each command script runs once against Airflow and once per xcomkit.
    """
    unknown = sorted(set(ON_POSTGRESQL) - {c.name for c in all_cases()})
    if unknown:
        raise ValueError(f"compat.cases.ON_POSTGRESQL names no case: {unknown}")
    t0 = time.monotonic()
    outcomes: list[list[Outcome]] = [[] for _ in xks]
    for case in cases:
        theirs = send(case, af)
        for mine, xk in zip(outcomes, xks, strict=True):
            mine.append(compare(for_backend(case, xk.backend), theirs, send(case, xk)))

    def progress(what: str) -> None:
        print(f"compat: {what} done at +{time.monotonic() - t0:.0f}s", flush=True)

    progress(f"{len(cases)} cases")
    raws = compare_raw(af, xks)
    clients: list[list[tuple[str, bool, str]]] = [[] for _ in xks]
    if not skip_clients:
        ok, out = run_seed_example(af)
        af_seed = ("seed_example.py against airflow", ok, out)
        for mine, xk in zip(clients, xks, strict=True):
            ok, out = run_seed_example(xk)
            mine += [af_seed, (f"seed_example.py against {xk.name}", ok, out)]
        ok, out = run_client_tests(af)
        for mine in clients:
            mine.append(("client tests against airflow", ok, out))
        progress("seed_example.py and the client tests")
        # The command scripts of different servers are independent (each its own DAG
        # run or keys per server, its own config directory): run them side by side.
        servers = [af, *xks]
        with ThreadPoolExecutor(len(servers)) as pool:
            scripts = list(
                pool.map(lambda s: cli_script(s.base_url, "admin", s.passwords["admin"]), servers)
            )
        for mine, xk, script in zip(clients, xks, scripts[1:], strict=True):
            ok, out = cli_compare(scripts[0], script)
            mine.append((f"xcomkit xcom commands, airflow vs {xk.name}", ok, out))
        progress("xcomkit xcom commands")
        exe = ensure_airflowctl()
        tokens = [s.token("admin") for s in servers]
        with ThreadPoolExecutor(len(servers)) as pool:
            ctl = list(
                pool.map(lambda s, token: ctl_commands(exe, s.base_url, token), servers, tokens)
            )
        for mine, xk, results in zip(clients, xks, ctl[1:], strict=True):
            ok, out = ctl_results_compare(ctl[0], results, normalize)
            mine.append((f"airflowctl {ctl_version} on airflow and {xk.name}", ok, out))
        progress("airflowctl commands")
    return [(mine, client, raw) for mine, client, raw in zip(outcomes, clients, raws, strict=True)]


def _abbreviate(text: str) -> str:
    return re.sub(r"(.)\1{19,}", lambda m: f"{m.group(1)}×{len(m.group(0))}", text)


def _short(answer: Answer, other: Answer | None = None) -> str:
    """Status and body for a table cell; of two dict bodies only the fields that differ."""
    body = normalize(answer.body)
    if other is not None and isinstance(body, dict) and isinstance(other.body, dict):
        theirs = normalize(other.body)
        if "xcom_entries" not in body:
            differing = {
                k: v
                for k, v in body.items()
                if k not in theirs or theirs[k] != v or not type_exact(theirs[k], v)
            }
            if differing and len(differing) < len(body):
                body = {"…": "…", **differing}
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = _abbreviate(text)
    if len(text) > 240:
        text = text[:240] + "…"
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"{answer.status} `{text}`" if text else f"{answer.status} (empty)"


def _listed(answer: Answer) -> str:
    """A list answer for a table cell: its status and the rows it holds, in order (DAG
    runs by ``dag_run_id``, XComs by ``key``), and ``total_entries``."""
    body = answer.body
    for rows, name in (("dag_runs", "dag_run_id"), ("xcom_entries", "key")):
        if isinstance(body, dict) and isinstance(body.get(rows), list):
            shown = ", ".join(str(r.get(name)) for r in body[rows]) or "none"
            return f"{answer.status}, {rows}: {shown} (total_entries {body.get('total_entries')})"
    return _short(answer)


def doc_request(case: Case) -> str:
    """A case's request as its row in docs/compatibility.md shows it."""
    req = describe_request(case)
    req = req.replace("/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/load/xcomEntries", "X")
    req = req.replace(
        "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries", "X(extract)"
    )
    return req.replace("|", "\\|")


def missing_from_doc(outcomes: list[Outcome], doc: str) -> list[str]:
    """The divergences the job knows that ``doc`` (docs/compatibility.md) does not list:
    a documented case without its row, or an entry of OTHER_DIVERGENCES."""
    missing = [
        f"row for {o.case.name!r}: `{doc_request(o.case)}`"
        for o in outcomes
        if o.case.expect_xcomkit is not None and f"| `{doc_request(o.case)}` |" not in doc
    ]
    missing += [
        f"entry {subject!r}" for subject, _ in OTHER_DIVERGENCES if f"- **{subject}.**" not in doc
    ]
    return missing


def compatibility_doc(outcomes: list[Outcome], postgresql: list[Outcome] | None = None) -> str:
    """docs/compatibility.md: every documented divergence with both servers' answers
    (``outcomes`` of xcomkit on SQLite), and those only xcomkit on PostgreSQL shows
    (``postgresql``: its outcomes; None keeps that section out)."""
    documented = [o for o in outcomes if o.case.expect_xcomkit is not None]
    lines = [
        "# Where xcomkit answers differently from Apache Airflow 3.3.2",
        "",
        "`make compat` (compat/run.py) sends every request of compat/cases.py to a live",
        "Airflow 3.3.2 (SQLite, simple auth manager, tests/data/manifest.yaml) and to",
        "xcomkit on SQLite and on PostgreSQL (see [On PostgreSQL](#on-postgresql)),",
        "and compares status, content type and JSON body after normalizing only",
        "what must differ: `timestamp`, `run_after`, `queued_at`, `end_date`,",
        "`dag_versions`, `git_version`, access tokens, generated `manual__…` run ids, the",
        "random error ids in Airflow's 409/500 bodies, and DAG-run list cursors (they hold",
        "sort keys such as those times; the cases that page follow each server's own",
        "cursors, and cursors of the same rows are the same strings on both). Raw-HTTP",
        "checks (keep-alive, pipelining, `Connection: close`, `Expect: 100-continue`) are",
        "compared on both servers too. Rows of an XCom list that tie on the requested",
        "`order_by` and the DAG run are compared as a set (Airflow leaves their order to",
        "the database's query plan).",
        "",
        "The requests below are answered differently on purpose, mostly where Airflow",
        "answers 500. The job asserts xcomkit's answer for each. This table is written by",
        "`.venv/bin/python compat/run.py --write-doc docs/compatibility.md` from the",
        f"answers of a live run ({len(documented)} requests; `X` is",
        "`/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/load/xcomEntries`, or",
        "`…/extract/xcomEntries` where noted; `×N` abbreviates a repeated character; where",
        'both answers are objects, only the fields that differ are shown, after `"…"`).',
        "",
        "| request | Airflow 3.3.2 answers | xcomkit answers | why |",
        "| --- | --- | --- | --- |",
    ]
    for o in documented:
        req = doc_request(o.case)
        xk = _short(o.xcomkit, o.airflow)
        if o.verdict == "documented-not-met":
            xk += f" **(not yet; documented: {_describe(o.case.expect_xcomkit)})**"
        lines.append(f"| `{req}` | {_short(o.airflow, o.xcomkit)} | {xk} | {o.case.why} |")
    if postgresql is not None:
        lines += [
            "",
            "## On PostgreSQL",
            "",
            "`make compat` runs every case above on xcomkit on SQLite and on xcomkit on a",
            "throw-away PostgreSQL, against the same reference Airflow (on SQLite). The",
            "requests below are answered differently on PostgreSQL because the databases",
            "differ, by Airflow as well: its queries leave NULL order and LIKE matching to",
            "the database, and xcomkit issues the same queries, so xcomkit on PostgreSQL",
            "answers as Airflow on PostgreSQL does. The job asserts these answers on",
            "PostgreSQL; on SQLite they equal Airflow's.",
            "",
            "| request | Airflow 3.3.2 on SQLite answers | xcomkit on PostgreSQL answers | why |",
            "| --- | --- | --- | --- |",
        ]
        for o in postgresql:
            if o.case.name not in ON_POSTGRESQL:
                continue
            xk = _listed(o.xcomkit)
            if o.verdict == "documented-not-met":
                xk += f" **(not yet; documented: {_describe(o.case.expect_xcomkit)})**"
            af = _listed(o.airflow)
            lines.append(f"| `{doc_request(o.case)}` | {af} | {xk} | {o.case.why} |")
    lines += ["", "## Divergences no request above can show", ""]
    lines += [f"- **{subject}.** {reason}" for subject, reason in OTHER_DIVERGENCES]
    lines += [
        "",
        "Not in the table, because they are normalized away: xcomkit answers",
        "`dag_versions: []` (it keeps no DAG versions) and its own `git_version`; its",
        "access tokens carry `iss: xcomkit`, `aud: xcomkit-api` (Airflow: `aud:",
        "apache-airflow`, no `iss`), both HS512.",
        "",
    ]
    return "\n".join(lines)


def compare_raw(airflow: Server, xcomkits: list[Server]) -> list[list[tuple[str, str]]]:
    """Each raw-HTTP check (compat/raw_http.py) once on Airflow and on each xcomkit: per
    xcomkit, (name, diff; empty when the normalized answers are equal)."""
    results: list[list[tuple[str, str]]] = [[] for _ in xcomkits]
    for check in raw_checks(lambda: airflow.token("admin")):
        a = normalize(run_check(airflow.base_url, check))
        for mine, xcomkit in zip(results, xcomkits, strict=True):
            x = normalize(run_check(xcomkit.base_url, replace_token(check, xcomkit)))
            diff = ""
            if a != x:
                diff = "\n".join(
                    difflib.unified_diff(
                        _dump({"a": a}), _dump({"a": x}), "airflow", xcomkit.name, lineterm=""
                    )
                )
            mine.append((check.name, diff))
    return results


def replace_token(check: Any, server: Server) -> Any:
    """The check with the Authorization headers made for ``server``."""
    from compat.raw_http import RawCheck

    token = f"Bearer {server.token('admin')}"
    requests = [
        (m, t, {k: (token if k == "Authorization" else v) for k, v in h.items()}, b)
        for m, t, h, b in check.requests
    ]
    return RawCheck(check.name, requests, check.pipelined)


def json_answers(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Every case's answers on both servers, for ``--json-out``."""
    return [
        {
            "name": o.case.name,
            "request": describe_request(o.case),
            "verdict": o.verdict,
            "airflow": o.airflow.as_dict(),
            "xcomkit": o.xcomkit.as_dict(),
        }
        for o in outcomes
    ]


def report(
    outcomes: list[Outcome],
    client_results: list[tuple[str, bool, str]],
    args: argparse.Namespace,
    raw_results: list[tuple[str, str]] | None = None,
    backend: str = "sqlite",
) -> int:
    """Print one xcomkit backend's differences and its summary line; 1 if any fails.

    ``args.write_doc``, when given, is the document the divergences are checked against.
    """
    print(f"\n##### xcomkit on {backend}", flush=True)
    by = {
        v: [o for o in outcomes if o.verdict == v]
        for v in ("equal", "documented", "unexpected", "documented-not-met")
    }
    xk_5xx = [
        o for o in outcomes if not isinstance(o.xcomkit.status, int) or o.xcomkit.status >= 500
    ]
    for o in by["unexpected"] + by["documented-not-met"]:
        print(f"\n=== {o.verdict.upper()}: {o.case.name}\n    {describe_request(o.case)}")
        print(o.diff)
    if args.show_documented:
        for o in by["documented"]:
            print(f"\n--- documented: {o.case.name} ({o.case.why})\n    {describe_request(o.case)}")
            print(o.diff)
    for o in xk_5xx:
        print(
            f"\n=== XCOMKIT 5XX: {o.case.name}\n    {describe_request(o.case)}\n"
            f"    {o.xcomkit.status} {o.xcomkit.body!r}"
        )
    doc_path = args.write_doc or DOC
    unlisted = missing_from_doc(outcomes, doc_path.read_text() if doc_path.exists() else "")
    for item in unlisted:
        print(f"\n=== NOT IN {doc_path.name}: {item}")
    raw_results = raw_results or []
    raw_differ = [name for name, diff in raw_results if diff]
    for name, diff in raw_results:
        if diff:
            print(f"\n=== RAW HTTP DIFFERS: {name}\n{diff}")
    failed_clients = [name for name, ok, _ in client_results if not ok]
    for name, ok, out in client_results:
        counts = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", out, re.M)
        last = counts[-1] if counts else (out.strip().splitlines() or [""])[-1]
        print(f"\n=== {name}: {'ok' if ok else 'FAILED'}  ({last})")
        if not ok:
            print(out)
    print(
        f"\ncompat summary, xcomkit on {backend}: {len(outcomes)} cases, {len(by['equal'])} equal, "
        f"{len(by['documented'])} documented divergences, "
        f"{len(by['unexpected'])} unexpected differences, "
        f"{len(by['documented-not-met'])} documented answers not met, "
        f"{len(xk_5xx)} xcomkit 5xx, "
        f"{len(unlisted)} divergences missing from {doc_path.name}, "
        f"{len(raw_results) - len(raw_differ)}/{len(raw_results)} raw-HTTP checks equal, "
        f"{len(client_results) - len(failed_clients)}/{len(client_results)} client runs ok"
    )
    bad = (
        by["unexpected"]
        or by["documented-not-met"]
        or xk_5xx
        or failed_clients
        or unlisted
        or raw_differ
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
