"""The same ``xcomkit xcom`` commands against a live Airflow 3.3.2 and against xcomkit.

Runs one script of commands (login, set, get, list, delete, export, import — including
an export of more XComs than one page of Airflow's list, and a refused token renewed from
a kept login — and the error cases) as a user would — the ``xcomkit`` executable, its
own config directory — against each server, and compares exit codes and outputs after
dropping what must differ (write timestamps, the runs' run_after, the server's URL). JSON
values, numbers and big integers included, must come out the same.

``make compat`` runs it (compat/run.py) on the servers it starts; alone::

    .venv/bin/python compat/cli_check.py      # starts Airflow 3.3.2 and xcomkit itself
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

BIN = Path(sys.executable).parent
#: A DAG run of its own (created on both servers first), so the compat cases' XComs on
#: the manifest's runs stay out of the lists and exports compared here.
DAG_ID, RUN_ID = "etl_daily", "cli_check"
ADDR = [DAG_ID, RUN_ID, "fetch"]
BIG = (
    '{"n": 123456789012345678901234567890, "f": 0.1, "e": -2.5e-10, "s": "x", "t": true, "z": null}'
)

#: (arguments after ``xcomkit``, standard input, how to read stdout).
SCRIPT: list[tuple[list[str], str | None, str]] = [
    (["xcom", "set", *ADDR, "cli_big", BIG, "-o", "json"], None, "json"),
    (["xcom", "set", *ADDR, "cli_num", "42", "-o", "json"], None, "json"),
    (["xcom", "set", *ADDR, "cli_str", '"42"', "-o", "plain"], None, "text"),
    (["xcom", "set", *ADDR, "cli_text", "hello world", "--string", "-o", "yaml"], None, "yaml"),
    (["xcom", "set", *ADDR, "cli_list", "--file", "-", "-o", "json"], "[1, [2.5, null]]", "json"),
    (["xcom", "set", *ADDR, "cli_num", "43"], None, "text"),
    (["xcom", "set", *ADDR, "cli_num", "43", "--overwrite", "-o", "plain"], None, "text"),
    (["xcom", "set", *ADDR, "cli_bad", "not json"], None, "text"),
    (["xcom", "set", DAG_ID, RUN_ID, "nope", "k", "1"], None, "text"),
    (["xcom", "set", DAG_ID, "no_run", "fetch", "k", "1"], None, "text"),
    (["xcom", "get", *ADDR, "cli_big", "-o", "json"], None, "json"),
    (["xcom", "get", *ADDR, "cli_big", "-o", "plain"], None, "text"),
    (["xcom", "get", *ADDR, "cli_big", "-o", "yaml"], None, "yaml"),
    (["xcom", "get", *ADDR, "cli_big", "--stringify", "-o", "plain"], None, "text"),
    (["xcom", "get", *ADDR, "cli_str", "--deserialize", "-o", "json"], None, "json"),
    (["xcom", "get", *ADDR, "cli_num", "--stringify", "-o", "json"], None, "json"),
    (["xcom", "get", *ADDR, "cli_num", "--map-index", "2", "-o", "plain"], None, "text"),
    (["xcom", "get", *ADDR, "cli_missing"], None, "text"),
    (["xcom", "list", DAG_ID, RUN_ID, "-o", "json"], None, "json"),
    (
        ["xcom", "list", "~", RUN_ID, "--key-pattern", "cli_%", "--order-by", "-key", "-o", "json"],
        None,
        "json",
    ),
    (["xcom", "list", DAG_ID, RUN_ID, "--all", "--limit", "2", "-o", "json"], None, "json"),
    (
        ["xcom", "list", DAG_ID, RUN_ID, "--limit", "2", "--offset", "1", "-o", "plain"],
        None,
        "plain-list",
    ),
    (
        ["xcom", "list", "~", RUN_ID, "--map-index", "-1", "--key", "cli_num", "-o", "json"],
        None,
        "json",
    ),
    (["xcom", "list", "~", RUN_ID, "--run-after-gte", "2025-01-02", "-o", "json"], None, "json"),
    (["xcom", "export", DAG_ID, RUN_ID], None, "jsonl"),
    (["xcom", "delete", *ADDR, "cli_num", "--map-index", "2"], None, "text"),
    (["xcom", "delete", *ADDR, "cli_text"], None, "text"),
    (["xcom", "import", "-", "--workers", "1"], "@export", "text"),
    (["xcom", "import", "-", "--overwrite", "--workers", "1"], "@export", "text"),
    (["xcom", "export", "~", RUN_ID], None, "jsonl"),
    # More XComs than one page of Airflow's list (maximum_page_limit 100): export asks for
    # 1000 a page and must follow what the server returned. The imports go one line at a
    # time: Airflow 3.3.2 on SQLite (the reference here) answers concurrent writes with
    # 500 Database error (measured: with 2 in flight, 26 of 100 lines failed).
    (["xcom", "import", "-", "--workers", "1"], "@paged", "text"),
    (["xcom", "export", DAG_ID, RUN_ID, "--workers", "16"], None, "jsonl"),
    (["xcom", "import", "-", "--overwrite", "--workers", "1"], "@paged", "text"),
    # A kept login renews a token the server refuses (Airflow: 403 Invalid JWT token).
    (["@renewal"], None, "json"),
]

#: Lines of the paged import (each with an integer past 64 bits).
PAGED = 150


def paged_lines() -> str:
    """:data:`PAGED` JSONL records on ``fetch`` of the check's run."""
    return "".join(
        json.dumps(
            {
                "dag_id": DAG_ID,
                "run_id": RUN_ID,
                "task_id": "fetch",
                "map_index": -1,  # Airflow answers 500 for one no task instance has
                "key": f"cli_page_{i:03}",
                "value": {"i": i, "big": 2**70 + i, "f": i / 8},
            }
        )
        + "\n"
        for i in range(PAGED)
    )


@dataclass
class Step:
    """One command's result, normalized."""

    args: list[str]
    exit_code: int
    stdout: Any
    stderr: str


#: Fields that differ by when things were made: the XCom's write time, and the run's
#: run_after (each server's runs are created over its API at the start of the job).
VARYING = ("timestamp", "run_after")


def _drop_timestamps(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_timestamps(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_drop_timestamps(v) for v in value]
    return value


def _read(text: str, how: str) -> Any:
    try:
        if how == "json":
            return _drop_timestamps(json.loads(text)) if text.strip() else text
        if how == "yaml":
            return _drop_timestamps(yaml.safe_load(text))
        if how == "jsonl":
            return [json.loads(line) for line in text.splitlines()]
        if how == "plain-list":
            return [line.rsplit("\t", 1)[0] for line in text.splitlines()]  # no timestamp
    except ValueError:
        pass
    return text


def create_run(base_url: str, username: str, password: str) -> None:
    """Create the DAG run :data:`RUN_ID` of :data:`DAG_ID` over the API (kept if it exists)."""
    token = httpx.post(
        f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=60
    ).json()["access_token"]
    r = httpx.post(
        f"{base_url}/api/v2/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": RUN_ID, "logical_date": None},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    if r.status_code not in (200, 409):
        raise RuntimeError(f"{base_url}: creating DAG run {RUN_ID}: {r.status_code} {r.text}")


def run_script(base_url: str, username: str, password: str) -> list[Step]:
    """Log in to ``base_url`` and run :data:`SCRIPT`; return each step's result."""
    create_run(base_url, username, password)
    with tempfile.TemporaryDirectory(prefix="xcomkit-cli-check-") as tmp:
        env = {**os.environ, "XDG_CONFIG_HOME": tmp, "XCOMKIT_API_URL": base_url}
        xcomkit = str(BIN / "xcomkit")

        def run(args: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [xcomkit, *args], input=stdin or "", capture_output=True, text=True,
                env=env, timeout=300,
            )  # fmt: skip

        login = run(["login", "--username", username], password + "\n")
        steps = [Step(["login"], login.returncode, "", login.stderr)]
        last_export = ""
        for args, stdin, how in SCRIPT:
            if stdin == "@export":
                stdin = last_export
            elif stdin == "@paged":
                stdin = paged_lines()
            if args == ["@renewal"]:
                r = _renewal(run, username, password, Path(tmp))
            else:
                r = run(args, stdin)
            if args[:2] == ["xcom", "export"]:
                last_export = r.stdout
            stderr = r.stderr.replace(base_url, "<api-url>")
            steps.append(Step(args, r.returncode, _read(r.stdout, how), stderr))
        return steps


def _renewal(
    run: Callable[[list[str], str | None], subprocess.CompletedProcess[str]],
    username: str,
    password: str,
    config_home: Path,
) -> subprocess.CompletedProcess[str]:
    """``login --keep-password``, spoil the kept token's signature, then ``xcom get``: the
    get must renew the token from the kept login and succeed."""
    login = run(["login", "--username", username, "--keep-password"], password + "\n")
    if login.returncode != 0:
        return login
    (kept_file,) = (config_home / "xcomkit" / "tokens").iterdir()
    kept = json.loads(kept_file.read_text())
    head, payload, signature = kept["token"].split(".")
    kept["token"] = f"{head}.{payload}.{signature[::-1]}"
    kept_file.write_text(json.dumps(kept))
    got = run(["xcom", "get", *ADDR, "cli_big", "-o", "json"], None)
    renewed = json.loads(kept_file.read_text())["token"] != kept["token"]
    if got.returncode == 0 and not renewed:
        got.stderr += "the kept token was not renewed\n"
    return got


def compare(airflow: list[Step], xcomkit: list[Step]) -> tuple[bool, str]:
    """``(equal, report)``: the report shows a diff per step that differs."""
    lines: list[str] = []
    differ = 0
    for a, x in zip(airflow, xcomkit, strict=True):
        if (a.exit_code, a.stdout, a.stderr) == (x.exit_code, x.stdout, x.stderr):
            continue
        differ += 1
        left = json.dumps(a.__dict__, indent=1, sort_keys=True).splitlines()
        right = json.dumps(x.__dict__, indent=1, sort_keys=True).splitlines()
        lines.append("$ xcomkit " + " ".join(a.args))
        lines += difflib.unified_diff(left, right, "airflow", "xcomkit", lineterm="")
    summary = f"xcomkit xcom commands: {len(airflow)} run against each server, {differ} differ"
    return not differ, "\n".join([summary, *lines])


def check(
    airflow_url: str, airflow_password: str, xcomkit_url: str, xcomkit_password: str
) -> tuple[bool, str]:
    """Run the script against both servers (user ``admin``) and compare."""
    a = run_script(airflow_url, "admin", airflow_password)
    x = run_script(xcomkit_url, "admin", xcomkit_password)
    return compare(a, x)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from compat.airflow_ref import DEFAULT_MANIFEST, reference_airflow
    from compat.run import xcomkit_server

    with (
        xcomkit_server(DEFAULT_MANIFEST) as xk,
        reference_airflow(manifest_path=DEFAULT_MANIFEST) as ref,
    ):
        ok, report = check(ref.base_url, ref.passwords["admin"], xk.base_url, xk.passwords["admin"])
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
