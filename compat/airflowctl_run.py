"""airflowctl (Airflow's own API command line, 0.1.5) against both servers, outputs compared.

Each command of :data:`COMMANDS` runs once against the reference Airflow and once
against xcomkit, each with its own ``AIRFLOW_HOME`` (holding ``production.json`` with
the server's URL) and ``AIRFLOW_CLI_TOKEN``. The exit code, the JSON printed on stdout
(normalized as the case answers are) and stderr (times removed) must be equal.

airflowctl is installed once with pip into ``~/.cache/xcomkit/airflowctl-0.1.5``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERSION = "0.1.5"
VENV = Path.home() / ".cache" / "xcomkit" / f"airflowctl-{VERSION}"

#: The ``dagrun`` and ``xcom`` commands airflowctl offers, with arguments a client would
#: use; run in order (the XCom commands write, read and remove the keys ``ctl_*``).
COMMANDS: list[list[str]] = [
    ["dagrun", "list", "--dag-id", "xcom_demo", "--limit", "2"],
    ["dagrun", "list", "--dag-id", "xcom_demo", "--state", "queued", "--limit", "3"],
    ["dagrun", "list", "--dag-id", "xcom_demo", "--state", "success"],
    ["dagrun", "list", "--dag-id", "~", "--limit", "4"],
    [
        "dagrun",
        "list",
        "--dag-id",
        "xcom_demo",
        "--start-date",
        "2025-01-01T00:00:00Z",
        "--end-date",
        "2100-01-01T00:00:00Z",
    ],
    ["dagrun", "list", "--dag-id", "nodag"],
    ["dagrun", "get", "xcom_demo", "run_1"],
    ["dagrun", "get", "xcom_demo", "nope"],
    ["xcom", "add", "xcom_demo", "run_1", "extract", "ctl_k", '{"a": 1}'],
    ["xcom", "add", "xcom_demo", "run_1", "extract", "ctl_k", '{"a": 1}'],
    ["xcom", "get", "xcom_demo", "run_1", "extract", "ctl_k"],
    ["xcom", "list", "xcom_demo", "run_1", "extract", "--key", "ctl_k"],
    ["xcom", "edit", "xcom_demo", "run_1", "extract", "ctl_k", "[1, 2]"],
    ["xcom", "get", "xcom_demo", "run_1", "extract", "ctl_k", "--output", "yaml"],
    ["xcom", "add", "xcom_demo", "run_1", "extract", "ctl_s", "plain text", "--map-index", "-1"],
    ["xcom", "get", "xcom_demo", "run_1", "extract", "ctl_s", "--output", "plain"],
    ["xcom", "delete", "xcom_demo", "run_1", "extract", "ctl_k"],
    ["xcom", "delete", "xcom_demo", "run_1", "extract", "ctl_s"],
    ["xcom", "get", "xcom_demo", "run_1", "extract", "ctl_k"],
    ["xcom", "edit", "xcom_demo", "run_1", "extract", "ctl_k", "1"],
    ["xcom", "list", "xcom_demo", "run_1", "notask"],
    ["xcom", "add", "nodag", "run_1", "extract", "ctl_x", "1"],
]

_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?")


def ensure_airflowctl() -> Path:
    """The airflowctl executable, installed with pip on first use.

    Raises:
        subprocess.CalledProcessError: the venv or the install failed.
    """
    exe = VENV / "bin" / "airflowctl"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", f"apache-airflow-ctl=={VERSION}"],
            check=True,
        )
    return exe


def run_commands(exe: Path, base_url: str, token: str) -> list[dict[str, Any]]:
    """Every command's exit code, stdout (parsed when JSON) and stderr, in order."""
    results = []
    with tempfile.TemporaryDirectory(prefix="xcomkit-airflowctl-") as home:
        Path(home, "production.json").write_text(json.dumps({"api_url": base_url}))
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW_CLI_TOKEN": token,
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        for argv in COMMANDS:
            r = subprocess.run(
                [str(exe), *argv], capture_output=True, text=True, env=env, timeout=120
            )
            out: Any = r.stdout.strip()
            try:
                out = json.loads(out)
            except ValueError:
                out = _TIME.sub("<time>", out)
            results.append(
                {
                    "argv": argv,
                    "rc": r.returncode,
                    "stdout": out,
                    "stderr": _TIME.sub("<time>", r.stderr.strip()),
                }
            )
    return results


def compare(
    exe: Path,
    airflow: tuple[str, str],
    xcomkit: tuple[str, str],
    normalize: Callable[[Any], Any],
) -> tuple[bool, str]:
    """Run :data:`COMMANDS` on both servers (``(base_url, admin token)`` each): whether
    every normalized result is equal, and a report of those that differ."""
    return compare_results(run_commands(exe, *airflow), run_commands(exe, *xcomkit), normalize)


def compare_results(
    theirs: list[dict[str, Any]],
    ours: list[dict[str, Any]],
    normalize: Callable[[Any], Any],
) -> tuple[bool, str]:
    """Compare two servers' :func:`run_commands` results: whether every normalized
    result is equal, and a report of those that differ."""
    lines = []
    for a, x in zip(theirs, ours, strict=True):
        if normalize(a) != normalize(x):
            lines.append(f"airflowctl {' '.join(a['argv'])}")
            lines.append(f"  airflow: {json.dumps(normalize(a), ensure_ascii=False)[:1500]}")
            lines.append(f"  xcomkit: {json.dumps(normalize(x), ensure_ascii=False)[:1500]}")
    lines.append("exit codes on Airflow: " + " ".join(str(a["rc"]) for a in theirs))
    equal = len(COMMANDS) - (len(lines) - 1) // 3
    failed = len(COMMANDS) - equal
    lines.append(f"{equal} passed, {failed} failed ({len(COMMANDS)} airflowctl commands)")
    return failed == 0, "\n".join(lines)
