"""Send a fixed list of requests to a reference Airflow 3.3.2 and record every answer.

The output is a Markdown transcript (request, status, relevant headers, exact body) for
the people writing xcomkit's server; ``--json`` also writes the records as JSON.

    .venv/bin/python compat/observe_airflow.py --out docs/airflow-observed-transcript.md

By default a fresh reference is started (see airflow_ref.py) so that every run sees the
same state; each request goes over its own connection so one 500 cannot poison the next.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from compat.airflow_ref import ReferenceAirflow, reference_airflow

UNSET: Any = object()
SHOWN_HEADERS = (
    "content-type",
    "content-length",
    "www-authenticate",
    "allow",
    "location",
    "set-cookie",
    "connection",
)


@dataclass
class Probe:
    """One request. ``content`` (raw bytes/str) wins over ``json``; ``role=None`` sends no token."""

    label: str
    method: str
    path: str
    params: list[tuple[str, str]] | dict[str, Any] | None = None
    json: Any = UNSET
    content: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    role: str | None = "admin"
    target: str | None = None  # raw request target, sent byte for byte (no normalisation)


@dataclass
class Record:
    section: str
    label: str
    request: str
    body_sent: str | None
    status: int | str
    headers: dict[str, str]
    body: str


def xpath(
    dag: str = "xcom_demo", run: str = "run_1", task: str = "extract", key: str | None = None
) -> str:
    base = f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries"
    return base if key is None else f"{base}/{key}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any], secret: str, alg: str = "HS512") -> str:
    """An HS256/HS512 (or alg "none") JWT built with the standard library only."""
    header = {"alg": alg, "typ": "JWT"}
    if alg != "none":
        header["kid"] = "not-used"
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if alg == "none":
        return signing_input + "."
    digest = {"HS512": hashlib.sha512, "HS256": hashlib.sha256}[alg]
    sig = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(sig)}"


def claims_for(user: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": user,
        "role": user,
        "teams": [],
        "jti": uuid.uuid4().hex,
        "aud": "apache-airflow",
        "nbf": now,
        "exp": now + 3600,
        "iat": now,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not UNSET}


class Observer:
    def __init__(self, ref: ReferenceAirflow) -> None:
        self.ref = ref
        self.records: list[Record] = []
        self.section = ""

    def send(self, probe: Probe) -> httpx.Response | None:
        headers = dict(probe.headers)
        if probe.role is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.ref.token(probe.role)}"
        kwargs: dict[str, Any] = {"headers": headers, "params": probe.params}
        body_sent: str | None = None
        if probe.content is not None:
            kwargs["content"] = probe.content
            body_sent = (
                probe.content
                if isinstance(probe.content, str)
                else probe.content.decode("utf-8", "replace")
            )
        elif probe.json is not UNSET:
            kwargs["json"] = probe.json
            body_sent = json.dumps(probe.json)
        if probe.target is not None:
            kwargs["extensions"] = {"target": probe.target.encode()}
        response: httpx.Response | None = None
        with httpx.Client(base_url=self.ref.base_url, timeout=30) as client:
            request = client.build_request(probe.method, probe.path, **kwargs)
            shown = probe.target or request.url.raw_path.decode()
            try:
                response = client.send(request)
                status: int | str = response.status_code
                rheaders = {k: v for k, v in response.headers.items() if k.lower() in SHOWN_HEADERS}
                body = response.text
            except httpx.HTTPError as exc:
                status, rheaders, body = f"transport error: {type(exc).__name__}", {}, str(exc)
        ctype = request.headers.get("content-type")
        req_line = f"{probe.method} {shown}" + (f"  (Content-Type: {ctype})" if ctype else "")
        if probe.role is None:
            auth = headers.get("Authorization")
            req_line += f"  (Authorization: {auth[:60] + '…' if auth and len(auth) > 60 else auth})"
        elif probe.role != "admin":
            req_line += f"  (as {probe.role})"
        self.records.append(
            Record(self.section, probe.label, req_line, body_sent, status, rheaders, body)
        )
        return response

    def run(self, section: str, probes: list[Probe]) -> None:
        self.section = section
        for probe in probes:
            self.send(probe)


VALUES: dict[str, Any] = {
    "v_null": None,
    "v_true": True,
    "v_false": False,
    "v_zero": 0,
    "v_neg": -1,
    "v_bigint": 2**70,
    "v_float1": 1.0,
    "v_1e100": 1e100,
    "v_0_1": 0.1,
    "v_negzero": -0.0,
    "v_str": "hello",
    "v_str_empty": "",
    "v_jsonstr": '{"a":1}',
    "v_numstr": "123",
    "v_boolstr": "true",
    "v_nullstr": "null",
    "v_liststr": "[1, 2]",
    "v_floatstr": "1.50",
    "v_nested": {"a": [1, None, {"b": True}], "c": "x"},
    "v_empty_list": [],
    "v_empty_dict": {},
    "v_list": [1, "two", 3.0, None],
    "v_unicode": "héllo ☃ 😀",
    "v_unicode_key_dict": {"ключ": "é"},
}
RAW_VALUES = {  # sent as raw JSON text, not via json.dumps
    "v_1e400": '{"key":"v_1e400","value":1e400}',
    "v_nan": '{"key":"v_nan","value":NaN}',
    "v_inf": '{"key":"v_inf","value":Infinity}',
    "v_ninf": '{"key":"v_ninf","value":-Infinity}',
    "v_dupkey": '{"key":"v_dupkey","value":{"a":1,"a":2}}',
}


def probes_create() -> list[Probe]:
    p = [
        Probe(f"value {k} = {v!r}", "POST", xpath(), json={"key": k, "value": v})
        for k, v in VALUES.items()
    ]
    p += [
        Probe(
            f"raw value {k}",
            "POST",
            xpath(),
            content=c,
            headers={"Content-Type": "application/json"},
        )
        for k, c in RAW_VALUES.items()
    ]
    p += [
        Probe("value missing", "POST", xpath(), json={"key": "v_missing"}),
        Probe("extra field", "POST", xpath(), json={"key": "v_extra", "value": 1, "foo": 2}),
        Probe("key is int", "POST", xpath(), json={"key": 5, "value": 1}),
        Probe("key is null", "POST", xpath(), json={"key": None, "value": 1}),
        Probe("key missing", "POST", xpath(), json={"value": 1}),
        Probe('map_index "x"', "POST", xpath(), json={"key": "m1", "value": 1, "map_index": "x"}),
        Probe("map_index 1.5", "POST", xpath(), json={"key": "m2", "value": 1, "map_index": 1.5}),
        Probe("map_index 1.0", "POST", xpath(), json={"key": "m2b", "value": 1, "map_index": -1.0}),
        Probe("map_index true", "POST", xpath(), json={"key": "m3", "value": 1, "map_index": True}),
        Probe('map_index "3"', "POST", xpath(), json={"key": "m4", "value": 1, "map_index": "3"}),
        Probe(
            'map_index "-1"', "POST", xpath(), json={"key": "m4b", "value": 1, "map_index": "-1"}
        ),
        Probe("map_index null", "POST", xpath(), json={"key": "m5", "value": 1, "map_index": None}),
        Probe("map_index -2", "POST", xpath(), json={"key": "m6", "value": 1, "map_index": -2}),
        Probe(
            "map_index 5 (no such task instance)",
            "POST",
            xpath(),
            json={"key": "m7", "value": 1, "map_index": 5},
        ),
        Probe(
            "map_index 0 (no such task instance)",
            "POST",
            xpath(),
            json={"key": "m8", "value": 1, "map_index": 0},
        ),
        Probe('key ""', "POST", xpath(), json={"key": "", "value": 1}),
        Probe("key 512 chars", "POST", xpath(), json={"key": "k" * 512, "value": 1}),
        Probe("key 513 chars", "POST", xpath(), json={"key": "k" * 513, "value": 1}),
        Probe("unknown dag", "POST", xpath(dag="nodag"), json={"key": "u1", "value": 1}),
        Probe("unknown task", "POST", xpath(task="notask"), json={"key": "u2", "value": 1}),
        Probe("unknown run", "POST", xpath(run="norun"), json={"key": "u3", "value": 1}),
        Probe("task of other dag", "POST", xpath(task="fetch"), json={"key": "u3b", "value": 1}),
        Probe("run of other dag", "POST", xpath(run="daily_1"), json={"key": "u3c", "value": 1}),
        Probe(
            "unknown dag+task",
            "POST",
            xpath(dag="nodag", task="notask"),
            json={"key": "u4", "value": 1},
        ),
        Probe(
            "unknown dag+run",
            "POST",
            xpath(dag="nodag", run="norun"),
            json={"key": "u5", "value": 1},
        ),
        Probe(
            "unknown task+run",
            "POST",
            xpath(task="notask", run="norun"),
            json={"key": "u6", "value": 1},
        ),
        Probe(
            "unknown dag+task+run",
            "POST",
            xpath(dag="nodag", task="notask", run="norun"),
            json={"key": "u7", "value": 1},
        ),
        Probe("unknown dag + invalid body", "POST", xpath(dag="nodag"), json={"key": 1}),
        Probe("duplicate (v_str again)", "POST", xpath(), json={"key": "v_str", "value": "again"}),
        Probe(
            "reserved __classname__ top level",
            "POST",
            xpath(),
            json={"key": "r1", "value": {"__classname__": "x"}},
        ),
        Probe(
            "reserved nested",
            "POST",
            xpath(),
            json={"key": "r2", "value": {"a": {"b": {"__version__": 1}}}},
        ),
        Probe(
            "reserved in list", "POST", xpath(), json={"key": "r3", "value": [1, {"__data__": 2}]}
        ),
        Probe(
            "reserved in JSON string",
            "POST",
            xpath(),
            json={"key": "r4", "value": '{"__classname__": "x"}'},
        ),
        Probe(
            "reserved in JSON string in list",
            "POST",
            xpath(),
            json={"key": "r4b", "value": ['{"__id__": 1}']},
        ),
        Probe(
            "reserved in nested JSON string",
            "POST",
            xpath(),
            json={"key": "r4c", "value": {"a": '[{"__cache__": 1}]'}},
        ),
        Probe(
            "several reserved (__var, __type, __source)",
            "POST",
            xpath(),
            json={"key": "r5", "value": {"__var": 1, "__type": 2, "__source": 3}},
        ),
        Probe(
            "reserved name as plain string value",
            "POST",
            xpath(),
            json={"key": "r6", "value": "__classname__"},
        ),
        Probe("reserved name as a key", "POST", xpath(), json={"key": "__classname__", "value": 1}),
        Probe(
            "near-reserved key __classname",
            "POST",
            xpath(),
            json={"key": "r7", "value": {"__classname": 1, "__typ": 2}},
        ),
        Probe(
            "reserved on unknown dag",
            "POST",
            xpath(dag="nodag"),
            json={"key": "r8", "value": {"__classname__": "x"}},
        ),
        Probe(
            "body not JSON",
            "POST",
            xpath(),
            content="not json",
            headers={"Content-Type": "application/json"},
        ),
        Probe("body JSON array", "POST", xpath(), json=[{"key": "a", "value": 1}]),
        Probe("body JSON string", "POST", xpath(), json="x"),
        Probe(
            "body JSON null",
            "POST",
            xpath(),
            content="null",
            headers={"Content-Type": "application/json"},
        ),
        Probe(
            "text/plain with JSON body",
            "POST",
            xpath(),
            content='{"key":"ct1","value":1}',
            headers={"Content-Type": "text/plain"},
        ),
        Probe("no content-type with JSON body", "POST", xpath(), content='{"key":"ct2","value":1}'),
        Probe(
            "application/vnd.api+json",
            "POST",
            xpath(),
            content='{"key":"ct3","value":1}',
            headers={"Content-Type": "application/vnd.api+json"},
        ),
        Probe(
            "form body",
            "POST",
            xpath(),
            content="key=ct4&value=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        Probe(
            "empty body (json content-type)",
            "POST",
            xpath(),
            content="",
            headers={"Content-Type": "application/json"},
        ),
        Probe("empty body (no content-type)", "POST", xpath(), content=""),
        Probe(
            "truncated JSON",
            "POST",
            xpath(),
            content='{"key":"t","value":',
            headers={"Content-Type": "application/json"},
        ),
        Probe("key with slash", "POST", xpath(), json={"key": "a/b", "value": "slash"}),
        Probe("key with space", "POST", xpath(), json={"key": "a b", "value": "space"}),
        Probe("key with unicode", "POST", xpath(), json={"key": "ключ☃", "value": "unicode"}),
        Probe("key ~", "POST", xpath(), json={"key": "~", "value": "tilde"}),
        Probe("key with dots", "POST", xpath(), json={"key": "a.b", "value": "dots"}),
        Probe("key ..", "POST", xpath(), json={"key": "..", "value": "dotdot"}),
        Probe("key with %2F literally", "POST", xpath(), json={"key": "p%2Fq", "value": "pct"}),
        Probe("key with ?#", "POST", xpath(), json={"key": "q?x#y", "value": "qh"}),
        Probe("key with trailing slash", "POST", xpath(), json={"key": "ts/", "value": "ts"}),
        Probe(
            "other run/task for list tests",
            "POST",
            xpath(run="run_2", task="transform"),
            json={"key": "v_str", "value": "run2"},
        ),
        Probe(
            "other dag for list tests",
            "POST",
            xpath(dag="etl_daily", run="daily_1", task="fetch"),
            json={"key": "Daily_Key", "value": 7},
        ),
        Probe(
            "other dag, key with %",
            "POST",
            xpath(dag="etl_daily", run="daily_1", task="store"),
            json={"key": "pct%key_x", "value": 8},
        ),
    ]
    return p


GET_KEYS = [*VALUES.keys(), "v_1e400", "v_nan", "v_inf", "v_ninf", "v_dupkey"]


def probes_get_one() -> list[Probe]:
    p: list[Probe] = []
    for key in GET_KEYS:
        for mode, params in (
            ("native", None),
            ("stringify", {"stringify": "true"}),
            ("deserialize", {"deserialize": "true"}),
            ("both", {"deserialize": "true", "stringify": "true"}),
        ):
            p.append(Probe(f"{key} {mode}", "GET", xpath(key=key), params=params))
    for mi in ("-1", "0", "-2", "abc", "1.0", ""):
        p.append(Probe(f"map_index={mi!r}", "GET", xpath(key="v_str"), params={"map_index": mi}))
    for val in ("yes", "1", "on", "True", "TRUE", "no", "0", "off", "false", "maybe", ""):
        p.append(
            Probe(
                f"deserialize={val!r} on v_numstr",
                "GET",
                xpath(key="v_numstr"),
                params={"deserialize": val},
            )
        )
    p += [
        Probe("stringify=maybe", "GET", xpath(key="v_str"), params={"stringify": "maybe"}),
        Probe("key a/b as a/b", "GET", xpath(key="a/b")),
        Probe("key a/b as a%2Fb", "GET", "", target=xpath(key="a%2Fb")),
        Probe("key 'a b' as a%20b", "GET", "", target=xpath(key="a%20b")),
        Probe("key 'a b' as a+b", "GET", "", target=xpath(key="a+b")),
        Probe("key unicode percent-encoded", "GET", xpath(key="ключ☃")),
        Probe("key ~", "GET", xpath(key="~")),
        Probe("key a.b", "GET", xpath(key="a.b")),
        Probe("key .. (raw target)", "GET", "", target=xpath(key="..")),
        Probe("key p%2Fq as p%252Fq", "GET", "", target=xpath(key="p%252Fq")),
        Probe("key q?x#y encoded", "GET", "", target=xpath(key="q%3Fx%23y")),
        Probe("key ts/ (trailing slash)", "GET", "", target=xpath(key="ts/")),
        Probe("key with double slash a//b", "GET", "", target=xpath(key="a//b")),
        Probe("key 512 chars", "GET", xpath(key="k" * 512)),
        Probe("missing key", "GET", xpath(key="nope")),
        Probe("unknown dag", "GET", xpath(dag="nodag", key="v_str")),
        Probe("unknown run", "GET", xpath(run="norun", key="v_str")),
        Probe("unknown task", "GET", xpath(task="notask", key="v_str")),
        Probe("~ as dag_id", "GET", xpath(dag="~", key="v_str")),
    ]
    return p


def probes_list() -> list[Probe]:
    L = xpath()
    ALL = xpath("~", "~", "~")
    p = [
        Probe("defaults (xcom_demo/run_1/extract)", "GET", L),
        Probe("all ~/~/~", "GET", ALL),
        Probe("dag ~ only", "GET", xpath(dag="~", run="run_2", task="transform")),
        Probe("run ~ only", "GET", xpath(run="~", task="transform")),
        Probe("task ~ only", "GET", xpath(dag="etl_daily", run="daily_1", task="~")),
        Probe("unknown dag, no wildcard", "GET", xpath(dag="nodag")),
        Probe("unknown run, no wildcard", "GET", xpath(run="norun")),
        Probe("unknown task, no wildcard", "GET", xpath(task="notask")),
    ]
    for f in (
        "key",
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "timestamp",
        "run_after",
        "logical_date",
        "value",
        "id",
        "dag_display_name",
        "task_display_name",
    ):
        for sign in ("", "-"):
            p.append(
                Probe(
                    f"order_by={sign}{f}",
                    "GET",
                    ALL,
                    params={"order_by": f"{sign}{f}", "limit": "100"},
                )
            )
    p += [
        Probe(
            "order_by twice (-dag_id, key)",
            "GET",
            ALL,
            params=[("order_by", "-dag_id"), ("order_by", "key"), ("limit", "100")],
        ),
        Probe("order_by comma list", "GET", ALL, params={"order_by": "-dag_id,key"}),
        Probe("order_by empty", "GET", ALL, params={"order_by": ""}),
        Probe("order_by 11 times", "GET", ALL, params=[("order_by", "key")] * 11),
        Probe(
            "order_by 10 times", "GET", ALL, params=[("order_by", "key")] * 10 + [("limit", "1")]
        ),
        Probe(
            "order_by bogus + valid",
            "GET",
            ALL,
            params=[("order_by", "key"), ("order_by", "bogus")],
        ),
    ]
    for lim in ("0", "1", "100", "101", "1000", "-1", "x", ""):
        p.append(Probe(f"limit={lim!r}", "GET", ALL, params={"limit": lim, "order_by": "key"}))
    for off in ("0", "-1", "5", "1000", "x"):
        p.append(
            Probe(
                f"offset={off!r} limit=3",
                "GET",
                ALL,
                params={"offset": off, "limit": "3", "order_by": "key"},
            )
        )
    patterns = {
        "xcom_key_pattern": [
            "V_E",
            "v_e",
            "%",
            "_",
            "v_str|Daily",
            "v_str | Daily",
            "~",
            "",
            "pct%key",
            "pct\\%key",
            "v\\_str",
            "a/b",
            "*",
            "a_b",
            "КЛЮЧ",
        ],
        "xcom_key_prefix_pattern": [
            "V_",
            "v_e",
            "v_",
            "%",
            "pct%",
            "pct\\%",
            "~",
            "",
            "v_str|a",
            "v%",
            "a_b",
            "a.b",
            "ключ",
            "v_str_",
            "v_str_e",
            "Daily",
            "k",
        ],
        "dag_display_name_pattern": ["xcom demo", "ETL", "demo|daily", "~"],
        "dag_display_name_prefix_pattern": ["XCom", "xcom", "ETL D", "~"],
        "run_id_pattern": ["RUN", "run_2", "_1", "~"],
        "run_id_prefix_pattern": ["run", "RUN", "daily_"],
        "task_id_pattern": ["TRANS", "fetch|store", "~"],
        "task_id_prefix_pattern": ["ex", "EX", "st"],
    }
    for name, values in patterns.items():
        for v in values:
            p.append(
                Probe(
                    f"{name}={v!r}", "GET", ALL, params={name: v, "limit": "100", "order_by": "key"}
                )
            )
    p += [
        Probe("map_index_filter=-1", "GET", ALL, params={"map_index_filter": "-1", "limit": "3"}),
        Probe("map_index_filter=0", "GET", ALL, params={"map_index_filter": "0"}),
        Probe("map_index_filter=x", "GET", ALL, params={"map_index_filter": "x"}),
        Probe("map_index=0", "GET", ALL, params={"map_index": "0"}),
        Probe("map_index=-2", "GET", ALL, params={"map_index": "-2"}),
        Probe("xcom_key=v_str", "GET", ALL, params={"xcom_key": "v_str"}),
        Probe("xcom_key=a/b", "GET", ALL, params={"xcom_key": "a/b"}),
    ]
    dates = {
        "logical_date_gte": [
            "2025-01-01T06:00:00Z",
            "2025-01-01",
            "2025-01-01T06:00:00+00:00",
            "2025-01-01T07:00:00+01:00",
            "2025-01-01 06:00",
            "1735711200",
            "2025-13-01",
            "garbage",
            "",
        ],
        "logical_date_gt": ["2025-01-01T06:00:00Z"],
        "logical_date_lte": ["2025-01-01T06:00:00Z"],
        "logical_date_lt": ["2025-01-01T06:00:00Z"],
        "run_after_gte": ["2025-01-02T00:00:00Z", "garbage"],
        "run_after_lt": ["2030-01-01T00:00:00Z"],
    }
    for name, values in dates.items():
        for v in values:
            p.append(
                Probe(
                    f"{name}={v!r}", "GET", ALL, params={name: v, "limit": "100", "order_by": "key"}
                )
            )
    p += [
        Probe(
            "key pattern + run ~ + dag fixed",
            "GET",
            xpath(run="~", task="~"),
            params={"xcom_key_pattern": "v_str"},
        ),
        Probe("trailing slash on list", "GET", "", target=L + "/"),
    ]
    return p


def probes_patch_delete() -> list[Probe]:
    return [
        Probe("GET v_str before patch", "GET", xpath(key="v_str")),
        Probe("PATCH v_str", "PATCH", xpath(key="v_str"), json={"value": {"patched": [1, 2]}}),
        Probe("GET v_str after patch", "GET", xpath(key="v_str")),
        Probe("PATCH missing key", "PATCH", xpath(key="nope"), json={"value": 1}),
        Probe(
            "PATCH with key field", "PATCH", xpath(key="v_zero"), json={"key": "v_zero", "value": 9}
        ),
        Probe("PATCH value missing", "PATCH", xpath(key="v_zero"), json={}),
        Probe("PATCH value null", "PATCH", xpath(key="v_zero"), json={"value": None}),
        Probe(
            "PATCH map_index 0 (missing)",
            "PATCH",
            xpath(key="v_zero"),
            json={"value": 1, "map_index": 0},
        ),
        Probe(
            "PATCH map_index -2", "PATCH", xpath(key="v_zero"), json={"value": 1, "map_index": -2}
        ),
        Probe(
            "PATCH map_index as query",
            "PATCH",
            xpath(key="v_zero"),
            params={"map_index": "0"},
            json={"value": 2},
        ),
        Probe("PATCH reserved", "PATCH", xpath(key="v_zero"), json={"value": {"__var": 1}}),
        Probe("PATCH unknown dag", "PATCH", xpath(dag="nodag", key="v_zero"), json={"value": 1}),
        Probe(
            "PATCH body not JSON",
            "PATCH",
            xpath(key="v_zero"),
            content="x",
            headers={"Content-Type": "application/json"},
        ),
        Probe("PATCH key a/b", "PATCH", xpath(key="a/b"), json={"value": "slash2"}),
        Probe("DELETE v_false", "DELETE", xpath(key="v_false")),
        Probe("DELETE v_false again", "DELETE", xpath(key="v_false")),
        Probe("DELETE map_index=0", "DELETE", xpath(key="v_true"), params={"map_index": "0"}),
        Probe("DELETE map_index=-2", "DELETE", xpath(key="v_true"), params={"map_index": "-2"}),
        Probe("DELETE map_index=x", "DELETE", xpath(key="v_true"), params={"map_index": "x"}),
        Probe("DELETE map_index=-1", "DELETE", xpath(key="v_true"), params={"map_index": "-1"}),
        Probe("DELETE unknown dag", "DELETE", xpath(dag="nodag", key="v_zero")),
        Probe("DELETE key a/b", "DELETE", xpath(key="a/b")),
        Probe("DELETE with body", "DELETE", xpath(key="v_neg"), json={"map_index": 0}),
    ]


def probes_auth(ref: ReferenceAirflow) -> list[Probe]:
    now = int(time.time())
    secret = ref.jwt_secret
    good = {"Content-Type": "application/json"}
    tok = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    R = xpath(key="v_zero")
    return [
        Probe("no Authorization", "GET", R, role=None),
        Probe(
            "Basic scheme", "GET", R, role=None, headers={"Authorization": "Basic YWRtaW46YWRtaW4="}
        ),
        Probe("Bearer garbage", "GET", R, role=None, headers=tok("garbage")),
        Probe("Bearer without token", "GET", R, role=None, headers={"Authorization": "Bearer"}),
        Probe(
            "token without scheme",
            "GET",
            R,
            role=None,
            headers={"Authorization": ref.token("admin")},
        ),
        Probe(
            "bearer lower-case scheme",
            "GET",
            R,
            role=None,
            headers={"Authorization": "bearer " + ref.token("admin")},
        ),
        Probe(
            "expired token (right secret)",
            "GET",
            R,
            role=None,
            headers=tok(
                make_jwt(claims_for("admin", exp=now - 10, iat=now - 100, nbf=now - 100), secret)
            ),
        ),
        Probe(
            "other secret",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin"), "x" * 64)),
        ),
        Probe(
            "alg none", "GET", R, role=None, headers=tok(make_jwt(claims_for("admin"), "", "none"))
        ),
        Probe(
            "HS256 with right secret",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin"), secret, "HS256")),
        ),
        Probe(
            "no aud claim",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin", aud=UNSET), secret)),
        ),
        Probe(
            "wrong aud",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin", aud="other"), secret)),
        ),
        Probe(
            "no exp claim",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin", exp=UNSET), secret)),
        ),
        Probe(
            "nbf in the future",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin", nbf=now + 600), secret)),
        ),
        Probe(
            "forged role claim: sub viewer, role admin, POST",
            "POST",
            xpath(),
            role=None,
            headers=tok(make_jwt(claims_for("viewer", role="admin"), secret)),
            json={"key": "forged_role", "value": 1},
        ),
        Probe(
            "unknown user sub, role admin",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("nobody", role="admin"), secret)),
        ),
        Probe(
            "no role claim",
            "GET",
            R,
            role=None,
            headers=tok(make_jwt(claims_for("admin", role=UNSET), secret)),
        ),
        Probe("viewer GET", "GET", R, role="viewer"),
        Probe("viewer list", "GET", xpath("~", "~", "~"), role="viewer", params={"limit": "1"}),
        Probe("viewer POST", "POST", xpath(), role="viewer", json={"key": "by_viewer", "value": 1}),
        Probe("viewer PATCH", "PATCH", R, role="viewer", json={"value": 1}),
        Probe("viewer DELETE", "DELETE", R, role="viewer"),
        Probe("viewer POST invalid body", "POST", xpath(), role="viewer", json={"key": 1}),
        Probe(
            "viewer POST unknown dag",
            "POST",
            xpath(dag="nodag"),
            role="viewer",
            json={"key": "x", "value": 1},
        ),
        Probe("no auth, invalid body", "POST", xpath(), role=None, json={"key": 1}),
        Probe("user POST", "POST", xpath(), role="user", json={"key": "by_user", "value": 1}),
        Probe("user PATCH", "PATCH", xpath(key="by_user"), role="user", json={"value": 2}),
        Probe("user DELETE", "DELETE", xpath(key="by_user"), role="user"),
        Probe("op POST", "POST", xpath(), role="op", json={"key": "by_op", "value": 1}),
        Probe("op PATCH", "PATCH", xpath(key="by_op"), role="op", json={"value": 2}),
        Probe("op DELETE", "DELETE", xpath(key="by_op"), role="op"),
        Probe(
            "viewer POST dagRuns",
            "POST",
            "/api/v2/dags/xcom_demo/dagRuns",
            role="viewer",
            json={"dag_run_id": "v_run", "logical_date": None},
        ),
        Probe(
            "token JSON ok",
            "POST",
            "/auth/token",
            role=None,
            json={"username": "viewer", "password": ref.passwords["viewer"]},
        ),
        Probe(
            "token form ok",
            "POST",
            "/auth/token",
            role=None,
            content=f"username=viewer&password={ref.passwords['viewer']}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        Probe(
            "token wrong password",
            "POST",
            "/auth/token",
            role=None,
            json={"username": "admin", "password": "wrong"},
        ),
        Probe(
            "token unknown user",
            "POST",
            "/auth/token",
            role=None,
            json={"username": "nobody", "password": "x"},
        ),
        Probe(
            "token missing password", "POST", "/auth/token", role=None, json={"username": "admin"}
        ),
        Probe("token empty JSON", "POST", "/auth/token", role=None, json={}),
        Probe("token no body", "POST", "/auth/token", role=None),
        Probe(
            "token form missing password",
            "POST",
            "/auth/token",
            role=None,
            content="username=admin",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        Probe(
            "token text/plain JSON",
            "POST",
            "/auth/token",
            role=None,
            content=json.dumps({"username": "viewer", "password": ref.passwords["viewer"]}),
            headers={"Content-Type": "text/plain"},
        ),
        Probe(
            "token extra field",
            "POST",
            "/auth/token",
            role=None,
            json={"username": "viewer", "password": ref.passwords["viewer"], "x": 1},
        ),
        Probe(
            "token non-string password",
            "POST",
            "/auth/token",
            role=None,
            json={"username": "viewer", "password": 123},
        ),
        Probe("GET /auth/token", "GET", "/auth/token", role=None),
        Probe(
            "token/cli JSON ok",
            "POST",
            "/auth/token/cli",
            role=None,
            json={"username": "viewer", "password": ref.passwords["viewer"]},
        ),
        Probe(
            "token/cli wrong password",
            "POST",
            "/auth/token/cli",
            role=None,
            json={"username": "viewer", "password": "nope"},
        ),
        Probe(
            "token/cli form",
            "POST",
            "/auth/token/cli",
            role=None,
            content=f"username=viewer&password={ref.passwords['viewer']}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        Probe("GET /auth/token/login (browser)", "GET", "/auth/token/login", role=None),
        Probe("version without auth", "GET", "/api/v2/version", role=None),
        Probe("health without auth", "GET", "/api/v2/monitor/health", role=None),
        Probe("dagRuns without auth", "GET", "/api/v2/dags/xcom_demo/dagRuns", role=None),
        Probe("good JSON header", "GET", R, headers=good),
    ]


def probes_dag_runs() -> list[Probe]:
    D = "/api/v2/dags/xcom_demo/dagRuns"
    return [
        Probe(
            "create run",
            "POST",
            D,
            json={"dag_run_id": "obs_run", "logical_date": "2025-02-01T00:00:00Z"},
        ),
        Probe(
            "create run, logical_date null",
            "POST",
            D,
            json={"dag_run_id": "obs_null", "logical_date": None},
        ),
        Probe("create run, no logical_date", "POST", D, json={"dag_run_id": "obs_none"}),
        Probe(
            "create run, no dag_run_id", "POST", D, json={"logical_date": "2025-02-03T00:00:00Z"}
        ),
        Probe("create run, empty body", "POST", D, json={}),
        Probe(
            "create run, duplicate run id",
            "POST",
            D,
            json={"dag_run_id": "obs_run", "logical_date": "2025-02-09T00:00:00Z"},
        ),
        Probe(
            "create run, duplicate logical_date",
            "POST",
            D,
            json={"dag_run_id": "obs_run_x", "logical_date": "2025-02-01T00:00:00Z"},
        ),
        Probe(
            "create run, naive date",
            "POST",
            D,
            json={"dag_run_id": "obs_naive", "logical_date": "2025-02-05T00:00:00"},
        ),
        Probe(
            "create run, +02:00 date",
            "POST",
            D,
            json={"dag_run_id": "obs_tz", "logical_date": "2025-02-06T02:00:00+02:00"},
        ),
        Probe(
            "create run, bad date", "POST", D, json={"dag_run_id": "obs_bad", "logical_date": "x"}
        ),
        Probe(
            "create run, extra field",
            "POST",
            D,
            json={"dag_run_id": "obs_extra", "logical_date": None, "foo": 1},
        ),
        Probe(
            "create run, run_after + conf + note",
            "POST",
            D,
            json={
                "dag_run_id": "obs_full",
                "logical_date": "2025-02-07T00:00:00Z",
                "run_after": "2025-03-01T00:00:00Z",
                "conf": {"a": 1},
                "note": "hi",
            },
        ),
        Probe(
            "create run, unknown dag",
            "POST",
            "/api/v2/dags/nodag/dagRuns",
            json={"dag_run_id": "x", "logical_date": None},
        ),
        Probe(
            "create run, dag ~",
            "POST",
            "/api/v2/dags/~/dagRuns",
            json={"dag_run_id": "x", "logical_date": None},
        ),
        Probe("list runs", "GET", D),
        Probe("list runs limit 1", "GET", D, params={"limit": "1"}),
        Probe("list runs all dags ~", "GET", "/api/v2/dags/~/dagRuns", params={"limit": "2"}),
        Probe("list runs unknown dag", "GET", "/api/v2/dags/nodag/dagRuns"),
        Probe("get run", "GET", D + "/run_1"),
        Probe("get run, unknown", "GET", D + "/norun"),
        Probe("get run, unknown dag", "GET", "/api/v2/dags/nodag/dagRuns/run_1"),
        Probe("get run of other dag", "GET", D + "/daily_1"),
        Probe("delete run", "DELETE", D + "/obs_none"),
        Probe("GET dag", "GET", "/api/v2/dags/xcom_demo"),
        Probe("GET task", "GET", "/api/v2/dags/xcom_demo/tasks/transform"),
        Probe("GET task instance", "GET", D + "/run_1/taskInstances/extract"),
        Probe(
            "XCom on the +02:00 run", "POST", xpath(run="obs_tz"), json={"key": "tz", "value": 1}
        ),
        Probe(
            "XCom on the null-logical_date run",
            "POST",
            xpath(run="obs_null"),
            json={"key": "nulldate", "value": 1},
        ),
        Probe(
            "list XComs with logical_date filter incl. null-date run",
            "GET",
            xpath(run="~"),
            params={"logical_date_gte": "2025-02-01T00:00:00Z"},
        ),
        Probe("version", "GET", "/api/v2/version"),
        Probe("health", "GET", "/api/v2/monitor/health"),
    ]


def probes_misc() -> list[Probe]:
    L = xpath()
    return [
        Probe("PUT on xcomEntries", "PUT", L, json={"key": "x", "value": 1}),
        Probe("PUT on an entry", "PUT", xpath(key="v_zero"), json={"value": 1}),
        Probe("DELETE on collection", "DELETE", L),
        Probe("PATCH on collection", "PATCH", L, json={"value": 1}),
        Probe("HEAD entry", "HEAD", xpath(key="v_zero")),
        Probe("OPTIONS entry", "OPTIONS", xpath(key="v_zero")),
        Probe("unknown path /api/v2/nope", "GET", "/api/v2/nope"),
        Probe("unknown path /nope without auth", "GET", "/nope", role=None),
        Probe("unknown API path without auth", "GET", "/api/v2/nope", role=None),
        Probe(
            "trailing slash POST collection",
            "POST",
            "",
            target=L + "/",
            json={"key": "ts_post", "value": 1},
        ),
        Probe("trailing slash on version", "GET", "", target="/api/v2/version/"),
        Probe("double slash in path", "GET", "", target="/api/v2//version"),
        Probe(
            "dag_id with space encoded",
            "GET",
            "",
            target="/api/v2/dags/xcom%20demo/dagRuns/run_1/taskInstances/extract/xcomEntries",
        ),
        Probe("api v1", "GET", "/api/v1/version"),
    ]


def render_markdown(records: list[Record], started: str) -> str:
    out = [
        "# Airflow 3.3.2 reference: raw transcript",
        "",
        "Generated by `compat/observe_airflow.py` against a fresh reference started by",
        f"`compat/airflow_ref.py` ({started}). Each request went over its own connection.",
        "Bodies are shown byte for byte (long ones cut at 3000 characters).",
        "Read docs/airflow-observed.md first.",
        "",
    ]
    section = None
    for r in records:
        if r.section != section:
            section = r.section
            out += [f"## {section}", ""]
        out.append(f"### {r.label}")
        out.append("")
        out.append("```")
        out.append(r.request)
        if r.body_sent is not None:
            sent = r.body_sent if len(r.body_sent) < 600 else r.body_sent[:600] + "…"
            out.append(f"> {sent}")
        hdrs = "; ".join(f"{k}: {v}" for k, v in r.headers.items())
        out.append(f"< {r.status}  [{hdrs}]")
        body = r.body if len(r.body) <= 3000 else r.body[:3000] + f"… ({len(r.body)} chars)"
        out.append(f"< {body}")
        out.append("```")
        out.append("")
    return "\n".join(out)


def connection_reuse_check(ref: ReferenceAirflow) -> list[Record]:
    """After a 500, does the next request on the same keep-alive connection survive?"""
    records = []
    headers = ref.auth_headers("admin")
    for label, body in (
        ("map_index 5 then GET", {"key": "cr1", "value": 1, "map_index": 5}),
        ("key '' then GET", {"key": "", "value": 1}),
        ("map_index -2 then GET", {"key": "cr2", "value": 1, "map_index": -2}),
        ('map_index "3" then GET', {"key": "cr3", "value": 1, "map_index": "3"}),
    ):
        with httpx.Client(base_url=ref.base_url, headers=headers, timeout=30) as c:
            seq = []
            for i in range(3):
                try:
                    r = c.post(xpath(), json=body) if i == 0 else c.get(xpath(key="v_zero"))
                    seq.append(f"{r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    seq.append(f"transport error {type(exc).__name__}: {exc}")
        records.append(
            Record(
                "Keep-alive after 500",
                label,
                "POST then GET, GET on one connection",
                json.dumps(body),
                "see body",
                {},
                "\n< ".join(seq),
            )
        )
    return records


def redact(records: list[Record], passwords: dict[str, str]) -> None:
    """Replace the throwaway instance's passwords and JWTs (kept out of the docs on principle)."""
    jwt_re = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
    for r in records:
        for attr in ("request", "body_sent", "body"):
            text = getattr(r, attr)
            if text is None:
                continue
            text = jwt_re.sub("<JWT>", text)
            for pw in passwords.values():
                text = text.replace(pw, "<password>")
            setattr(r, attr, text)


def token_claims(ref: ReferenceAirflow) -> Record:
    """Decode (unverified) the header and claims of /auth/token and /auth/token/cli tokens."""
    out = []
    for path in ("/auth/token", "/auth/token/cli"):
        body = {"username": "viewer", "password": ref.passwords["viewer"]}
        token = httpx.post(ref.base_url + path, json=body, timeout=30).json()["access_token"]
        head, claims, _ = token.split(".")
        pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
        h = json.loads(base64.urlsafe_b64decode(pad(head)))
        c = json.loads(base64.urlsafe_b64decode(pad(claims)))
        out.append(
            f"{path}: header={json.dumps(h)} claims={json.dumps(c)} exp-iat={c['exp'] - c['iat']}s"
        )
    return Record(
        "Token contents",
        "decoded JWTs",
        "POST /auth/token, POST /auth/token/cli",
        None,
        "n/a",
        {},
        "\n< ".join(out),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record the reference Airflow's answers.")
    parser.add_argument("--out", type=Path, default=Path("docs/airflow-observed-transcript.md"))
    parser.add_argument("--json", type=Path, default=None, help="also write records as JSON")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with reference_airflow() as ref:
        obs = Observer(ref)
        obs.run("POST create", probes_create())
        obs.run("GET one entry", probes_get_one())
        obs.run("GET list", probes_list())
        obs.run("PATCH and DELETE", probes_patch_delete())
        obs.run("Auth", probes_auth(ref))
        obs.run("DAG runs, DAGs, version, health", probes_dag_runs())
        obs.run("Methods, unknown paths, slashes", probes_misc())
        obs.records += connection_reuse_check(ref)
        obs.records.append(token_claims(ref))
        log_tail = (ref.home / "api-server.log").read_text()[-200000:]
        redact(obs.records, ref.passwords)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(obs.records, started))
    if args.json:
        args.json.write_text(
            json.dumps([r.__dict__ for r in obs.records], indent=1, ensure_ascii=False)
        )
    Path("/tmp/xcomkit-observe-api-server.log").write_text(log_tail)
    print(f"{len(obs.records)} records -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
