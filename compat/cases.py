"""The compatibility corpus: requests sent, in order, to Airflow 3.3.2 and to xcomkit.

Each :class:`Case` is one request. Cases run in list order against both servers, so a
create early in the list is seen by a read later on; every case that writes uses a key
no other case uses, so the two servers' states stay equal. Cases whose answers must
differ (Airflow answers 5xx, or xcomkit differs on purpose) carry ``expect_xcomkit``
and a ``why``; they are listed in docs/compatibility.md. They are placed so that any
state they leave behind on one server only (say an XCom at map_index 0 that Airflow
refused) is invisible to the cases compared after them.

``auth`` says how the Authorization header is made, per server:

- a role name (``admin``, ``user``, ``op``, ``viewer``): a token from ``POST /auth/token``
- ``None``: no header
- ``"forge:<kind>"``: a token signed by the harness, with each server's own claims and
  secret (see :data:`FORGE_KINDS` and compat/run.py)
- ``"raw:<header value>"``: that header verbatim (``{token}`` becomes the admin token)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

UNSET: Any = object()

#: Forged-token kinds understood by compat/run.py's ``forge_token``.
FORGE_KINDS = (
    "valid_admin",
    "expired",
    "other_secret",
    "alg_none",
    "hs256",
    "no_aud",
    "wrong_aud",
    "no_exp",
    "nbf_future",
    "no_role",
    "sub_viewer_role_admin",
    "sub_nobody_role_admin",
    "role_viewer",
)


@dataclass
class Case:
    """One request, and, if its answers must differ, what xcomkit answers instead.

    ``expect_xcomkit`` is ``(status, body)``; ``body`` is the exact parsed JSON (after
    normalization), ``ANY`` for any body, or a predicate ``body -> bool``. ``why`` is the
    reason, shown in the report and docs/compatibility.md.
    """

    name: str
    method: str
    path: str
    params: list[tuple[str, str]] | None = None
    auth: str | None = "admin"
    json: Any = UNSET
    content: str | bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # raw request target, sent byte for byte
    expect_xcomkit: tuple[int, Any] | None = None
    why: str = ""
    compare_headers: tuple[str, ...] = ()


ANY: Any = object()


def X(
    key: str | None = None,
    dag: str = "xcom_demo",
    run: str = "run_1",
    task: str = "extract",
) -> str:
    """The XCom collection path, or one entry's path when ``key`` is given (not encoded)."""
    base = f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries"
    return base if key is None else f"{base}/{key}"


def where(description: str, check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A body predicate with a description (shown in reports)."""
    check.__doc__ = description
    return check


def detail(message: str) -> dict[str, str]:
    return {"detail": message}


def _has_detail(status_body: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return status_body


def is_422_at(*locs: list[Any]) -> Callable[[Any], bool]:
    """A FastAPI 422 body whose errors are at exactly these ``loc``s, in order."""

    def check(body: Any) -> bool:
        try:
            return [e["loc"] for e in body["detail"]] == [list(loc) for loc in locs]
        except (TypeError, KeyError):
            return False

    check.__doc__ = f"422 body with errors at {list(locs)}"
    return check


def xcom_not_found(key: str) -> dict[str, str]:
    return detail(f"XCom entry with key: `{key}` not found")


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------

VALUES: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "neg": -1,
    "int": 42,
    "float": 2.5,
    "e100": 1e100,
    "tenth": 0.1,
    "str": "hello",
    "str_empty": "",
    "str_spaces": "  padded  ",
    "str_quotes": 'it\'s "quoted" \\ back',
    "str_newline": "line1\nline2\ttab",
    "jsonstr_obj": '{"a":1}',
    "jsonstr_arr": "[1, 2]",
    "jsonstr_num": "123",
    "jsonstr_float": "1.50",
    "jsonstr_bool": "true",
    "jsonstr_null": "null",
    "jsonstr_str": '"inner"',
    "jsonstr_nested": '{"a": "[1, {\\"b\\": null}]"}',
    "jsonstr_bad": "{not json",
    "jsonstr_ws": " 1 ",
    "jsonstr_nan": "NaN",
    "jsonstr_inf": "-Infinity",
    "jsonstr_bigint": "1180591620717411303424",
    "jsonstr_float1": "1.0",
    "jsonstr_reserved_lookalike": '{"__classname": 1}',
    "nested": {"a": [1, None, {"b": True}], "c": "x", "d": {"e": {"f": [[], {}]}}},
    "empty_list": [],
    "empty_dict": {},
    "list_mixed": [1, "two", 3.0, None, False, {"k": [0.5]}],
    "unicode": "héllo ☃ 😀",
    "unicode_dict": {"ключ": "é", "😀": ["☃"]},
    "nested_bigint": {"n": 2**70, "m": [2**64 + 1]},
    "nested_floats": {"a": 1.0, "b": -0.0, "c": 1e-7, "d": 123456789.123},
    "bool_dict": {"t": True, "f": False, "n": None},
    "deep": {"l1": {"l2": {"l3": {"l4": {"l5": [1, [2, [3, [4]]]]}}}}},
    "long_str": "x" * 5000,
    "special_chars_dict": {"a/b": 1, "c.d": 2, "e f": 3, "%": 4, "~": 5},
}

#: Top-level numbers: Airflow on SQLite loses their JSON form (1.0 -> 1, 2**70 -> float);
#: xcomkit keeps them, like Airflow on PostgreSQL.
NUMBER_FORM_VALUES: dict[str, tuple[Any, Any]] = {
    # name: (value sent, value xcomkit answers natively)
    "bigint": (2**70, 2**70),
    "float1": (1.0, 1.0),
    "negzero": (-0.0, -0.0),
}

RAW_VALUES: dict[str, str] = {  # sent as raw JSON text
    "nan": "NaN",
    "inf": "Infinity",
    "ninf": "-Infinity",
    "e400": "1e400",
    "dupkey": '{"a":1,"a":2}',
    "nested_nan": '{"a":[NaN, 1]}',
}

MODES: list[tuple[str, list[tuple[str, str]]]] = [
    ("native", []),
    ("stringify", [("stringify", "true")]),
    ("deserialize", [("deserialize", "true")]),
    ("both", [("deserialize", "true"), ("stringify", "true")]),
]


def value_cases() -> list[Case]:
    cases: list[Case] = []
    for name, value in VALUES.items():
        key = f"val_{name}"
        cases.append(Case(f"create value {name}", "POST", X(), json={"key": key, "value": value}))
        for mode, params in MODES:
            cases.append(Case(f"get value {name} {mode}", "GET", X(key), params=params))
    for name, raw in RAW_VALUES.items():
        key = f"raw_{name}"
        body = f'{{"key":"{key}","value":{raw}}}'
        cases.append(
            Case(
                f"create raw value {name}",
                "POST",
                X(),
                content=body,
                content_type="application/json",
            )
        )
        for mode, params in MODES:
            cases.append(Case(f"get raw value {name} {mode}", "GET", X(key), params=params))
    return cases


def number_form_cases() -> list[Case]:
    """Top-level numbers (documented divergence: xcomkit keeps the JSON form)."""
    cases: list[Case] = []
    why = (
        "Airflow on SQLite stores a top-level number with numeric affinity (1.0 -> 1, "
        "-0.0 -> 0, 2**70 -> 1.1805916207174113e+21); xcomkit keeps the number as sent, "
        "like Airflow on PostgreSQL"
    )
    for name, (value, back) in NUMBER_FORM_VALUES.items():
        key = f"num_{name}"

        def same_value(expected: Any) -> Callable[[Any], bool]:
            def check(body: Any) -> bool:
                got = body.get("value") if isinstance(body, dict) else None
                return (
                    got == expected and type(got) is type(expected) and (str(got) == str(expected))
                )

            check.__doc__ = f"value is {expected!r}"
            return check

        cases.append(
            Case(
                f"create top-level number {name}",
                "POST",
                X(),
                json={"key": key, "value": value},
                expect_xcomkit=(201, same_value(back)),
                why=why,
            )
        )
        cases.append(
            Case(
                f"get top-level number {name}",
                "GET",
                X(key),
                expect_xcomkit=(200, same_value(back)),
                why=why,
            )
        )
        cases.append(
            Case(
                f"get top-level number {name} stringify",
                "GET",
                X(key),
                params=[("stringify", "true")],
                expect_xcomkit=(200, same_value(str(back))),
                why=why,
            )
        )
    return cases


# ---------------------------------------------------------------------------------------
# Keys in the path
# ---------------------------------------------------------------------------------------

#: (name, key, path segment as sent)
KEY_CASES: list[tuple[str, str, str]] = [
    ("slash", "k/a/b", "k/a/b"),
    ("slash encoded", "k/c/d", "k%2Fc%2Fd"),
    ("space", "k space", "k%20space"),
    ("percent literal", "k%2Fq", "k%252Fq"),
    ("percent alone", "k%pct", "k%25pct"),
    ("dots", "k.a.b", "k.a.b"),
    ("tilde in key", "k~tilde", "k~tilde"),
    ("unicode", "kключ☃😀", "k%D0%BA%D0%BB%D1%8E%D1%87%E2%98%83%F0%9F%98%80"),
    ("question hash", "k?x#y", "k%3Fx%23y"),
    ("plus", "k+plus", "k%2Bplus"),
    ("trailing slash", "kts/", "kts/"),
    ("colon at", "k:at@x", "k:at@x"),
    ("512 chars", "k" * 512, "k" * 512),
    ("brackets", "k[0]{a}", "k%5B0%5D%7Ba%7D"),
]


def key_cases() -> list[Case]:
    cases: list[Case] = []
    for name, key, segment in KEY_CASES:
        cases.append(
            Case(f"create key {name}", "POST", X(), json={"key": key, "value": f"key {name}"})
        )
        cases.append(Case(f"get key {name}", "GET", X(segment)))
    cases += [
        Case("get key with + (not a space)", "GET", X("k+space")),
        Case("create key ~", "POST", X(), json={"key": "~", "value": "tilde"}),
        Case("get key ~ (no wildcard)", "GET", X("~")),
        Case("create key ..", "POST", X(), json={"key": "..", "value": "dotdot"}),
        Case(
            "get key .. (no dot-segment removal)",
            "GET",
            X(".."),
            target=X("..").replace("..", "..", 1),
        ),
        Case("get key a//b", "GET", X("k//b")),
        Case(
            "create key named __classname__", "POST", X(), json={"key": "__classname__", "value": 1}
        ),
        Case("get key named __classname__", "GET", X("__classname__")),
        Case("patch key with slash", "PATCH", X("k/a/b"), json={"value": "patched slash"}),
        Case("get key with slash after patch", "GET", X("k%2Fa%2Fb")),
        Case("delete key with space", "DELETE", X("k%20space")),
        Case("get deleted key with space", "GET", X("k space")),
        Case("delete unicode key", "DELETE", X("kключ☃😀")),
    ]
    return cases


# ---------------------------------------------------------------------------------------
# GET one
# ---------------------------------------------------------------------------------------


def get_one_cases() -> list[Case]:
    cases = [
        Case("get missing key", "GET", X("nope")),
        Case("get on unknown dag", "GET", X("val_int", dag="nodag")),
        Case("get on unknown run", "GET", X("val_int", run="norun")),
        Case("get on unknown task", "GET", X("val_int", task="notask")),
        Case("get with ~ dag", "GET", X("val_int", dag="~")),
        Case("get with ~ run", "GET", X("val_int", run="~")),
        Case("get with ~ task", "GET", X("val_int", task="~")),
        Case("get with ~ everywhere", "GET", X("val_int", dag="~", run="~", task="~")),
        Case("get on other dag's run", "GET", X("val_int", run="daily_1")),
        Case("get map_index -1 explicit", "GET", X("val_int"), params=[("map_index", "-1")]),
        Case("get map_index 0 missing", "GET", X("val_int"), params=[("map_index", "0")]),
        Case("get map_index 1.0", "GET", X("val_int"), params=[("map_index", "1.0")]),
        Case("get map_index -1.0", "GET", X("val_int"), params=[("map_index", "-1.0")]),
        Case("get map_index -2", "GET", X("val_int"), params=[("map_index", "-2")]),
        Case("get map_index abc", "GET", X("val_int"), params=[("map_index", "abc")]),
        Case("get map_index empty", "GET", X("val_int"), params=[("map_index", "")]),
        Case("get stringify maybe", "GET", X("val_int"), params=[("stringify", "maybe")]),
        Case("get deserialize empty", "GET", X("val_int"), params=[("deserialize", "")]),
        Case("get unknown query param ignored", "GET", X("val_int"), params=[("foo", "bar")]),
    ]
    for spelling in ("True", "TRUE", "1", "yes", "on", "false", "0", "no", "off"):
        cases.append(
            Case(
                f"get deserialize={spelling}",
                "GET",
                X("val_jsonstr_num"),
                params=[("deserialize", spelling)],
            )
        )
    cases.append(
        Case(
            "get stringify=1 deserialize=yes",
            "GET",
            X("val_jsonstr_bool"),
            params=[("stringify", "1"), ("deserialize", "yes")],
        )
    )
    return cases


# ---------------------------------------------------------------------------------------
# POST create errors
# ---------------------------------------------------------------------------------------


def create_error_cases() -> list[Case]:
    return [
        Case("create value missing", "POST", X(), json={"key": "c_missing"}),
        Case("create extra field", "POST", X(), json={"key": "c_extra", "value": 1, "foo": 2}),
        Case(
            "create two extra fields",
            "POST",
            X(),
            json={"key": "c_extra2", "value": 1, "foo": 2, "bar": None},
        ),
        Case("create key int", "POST", X(), json={"key": 5, "value": 1}),
        Case("create key null", "POST", X(), json={"key": None, "value": 1}),
        Case("create key list", "POST", X(), json={"key": ["a"], "value": 1}),
        Case("create key missing", "POST", X(), json={"value": 1}),
        Case("create everything missing", "POST", X(), json={}),
        Case("create map_index x", "POST", X(), json={"key": "c_m1", "value": 1, "map_index": "x"}),
        Case(
            "create map_index 1.5", "POST", X(), json={"key": "c_m2", "value": 1, "map_index": 1.5}
        ),
        Case(
            "create map_index null",
            "POST",
            X(),
            json={"key": "c_m3", "value": 1, "map_index": None},
        ),
        Case(
            "create map_index list",
            "POST",
            X(),
            json={"key": "c_m3b", "value": 1, "map_index": [1]},
        ),
        Case(
            "create map_index -1.0",
            "POST",
            X(),
            json={"key": "c_m4", "value": 1, "map_index": -1.0},
        ),
        Case(
            'create map_index "-1"',
            "POST",
            X(),
            json={"key": "c_m5", "value": 1, "map_index": "-1"},
        ),
        Case("create several errors", "POST", X(), json={"key": 1, "map_index": "x", "zzz": 0}),
        Case("create unknown dag", "POST", X(dag="nodag"), json={"key": "c_u1", "value": 1}),
        Case("create unknown task", "POST", X(task="notask"), json={"key": "c_u2", "value": 1}),
        Case("create unknown run", "POST", X(run="norun"), json={"key": "c_u3", "value": 1}),
        Case("create task of other dag", "POST", X(task="fetch"), json={"key": "c_u4", "value": 1}),
        Case("create run of other dag", "POST", X(run="daily_1"), json={"key": "c_u5", "value": 1}),
        Case(
            "create unknown dag+task",
            "POST",
            X(dag="nodag", task="notask"),
            json={"key": "c_u6", "value": 1},
        ),
        Case(
            "create unknown dag+run",
            "POST",
            X(dag="nodag", run="norun"),
            json={"key": "c_u7", "value": 1},
        ),
        Case(
            "create unknown task+run",
            "POST",
            X(task="notask", run="norun"),
            json={"key": "c_u8", "value": 1},
        ),
        Case(
            "create unknown dag+task+run",
            "POST",
            X(dag="nodag", task="notask", run="norun"),
            json={"key": "c_u9", "value": 1},
        ),
        Case("create ~ as dag", "POST", X(dag="~"), json={"key": "c_u10", "value": 1}),
        Case("create ~ as run", "POST", X(run="~"), json={"key": "c_u11", "value": 1}),
        Case("create ~ as task", "POST", X(task="~"), json={"key": "c_u12", "value": 1}),
        Case("create unknown dag + invalid body", "POST", X(dag="nodag"), json={"key": 1}),
        Case(
            "create unknown dag + reserved key",
            "POST",
            X(dag="nodag"),
            json={"key": "c_u13", "value": {"__classname__": "x"}},
        ),
        Case("create duplicate", "POST", X(), json={"key": "val_str", "value": "again"}),
        Case(
            "create duplicate on unknown dag (404 first)",
            "POST",
            X(dag="nodag"),
            json={"key": "val_str", "value": "again"},
        ),
        Case(
            "create same key other task",
            "POST",
            X(task="transform"),
            json={"key": "val_str", "value": "other task"},
        ),
        Case(
            "create same key other run",
            "POST",
            X(run="run_2"),
            json={"key": "val_str", "value": "other run"},
        ),
        # reserved keys
        Case(
            "create reserved top level",
            "POST",
            X(),
            json={"key": "c_r1", "value": {"__classname__": "x"}},
        ),
        Case(
            "create reserved nested",
            "POST",
            X(),
            json={"key": "c_r2", "value": {"a": {"b": {"__version__": 1}}}},
        ),
        Case(
            "create reserved in list",
            "POST",
            X(),
            json={"key": "c_r3", "value": [1, {"__data__": 2}]},
        ),
        Case(
            "create reserved in JSON string",
            "POST",
            X(),
            json={"key": "c_r4", "value": '{"__classname__": "x"}'},
        ),
        Case(
            "create reserved in JSON string in list",
            "POST",
            X(),
            json={"key": "c_r5", "value": ['{"__id__": 1}']},
        ),
        Case(
            "create reserved in nested JSON string",
            "POST",
            X(),
            json={"key": "c_r6", "value": {"a": '[{"__cache__": 1}]'}},
        ),
        Case(
            "create reserved several sorted",
            "POST",
            X(),
            json={"key": "c_r7", "value": {"__var": 1, "__type": 2, "__source": 3}},
        ),
        Case(
            "create reserved in list of lists",
            "POST",
            X(),
            json={"key": "c_r8", "value": [[{"x": {"__id__": 1}}]]},
        ),
        Case(
            "create reserved in JSON string in JSON string",
            "POST",
            X(),
            json={"key": "c_r9", "value": json.dumps({"a": json.dumps({"__var": 1})})},
        ),
        Case(
            "create reserved two places",
            "POST",
            X(),
            json={"key": "c_r10", "value": {"a": {"__type": 1}, "b": [{"__var": 2}]}},
        ),
        Case(
            "create reserved as plain string (ok)",
            "POST",
            X(),
            json={"key": "c_r11", "value": "__classname__"},
        ),
        Case(
            "create near-reserved (ok)",
            "POST",
            X(),
            json={"key": "c_r12", "value": {"__classname": 1, "__typ": 2, "_var": 3}},
        ),
        Case(
            "create reserved key with invalid key too",
            "POST",
            X(),
            json={"key": 5, "value": {"__classname__": 1}},
        ),
        # bodies
        Case(
            "create body not json", "POST", X(), content="not json", content_type="application/json"
        ),
        Case(
            "create body truncated",
            "POST",
            X(),
            content='{"key":"t","value":',
            content_type="application/json",
        ),
        Case(
            "create body trailing garbage",
            "POST",
            X(),
            content='{"key":"t2","value":1} x',
            content_type="application/json",
        ),
        Case("create body array", "POST", X(), json=[{"key": "a", "value": 1}]),
        Case("create body string", "POST", X(), json="x"),
        Case("create body number", "POST", X(), json=3),
        Case("create body null", "POST", X(), content="null", content_type="application/json"),
        Case("create empty body json ct", "POST", X(), content="", content_type="application/json"),
        Case("create empty body no ct", "POST", X(), content=""),
        Case(
            "create text/plain",
            "POST",
            X(),
            content='{"key":"c_ct1","value":1}',
            content_type="text/plain",
        ),
        Case("create no content-type", "POST", X(), content='{"key":"c_ct2","value":1}'),
        Case(
            "create form body",
            "POST",
            X(),
            content="key=c_ct3&value=1",
            content_type="application/x-www-form-urlencoded",
        ),
        Case(
            "create vnd.api+json",
            "POST",
            X(),
            content='{"key":"c_ct4","value":1}',
            content_type="application/vnd.api+json",
        ),
        Case(
            "create json with charset",
            "POST",
            X(),
            content='{"key":"c_ct5","value":1}',
            content_type="application/json; charset=utf-8",
        ),
        Case(
            "create invalid utf-8",
            "POST",
            X(),
            content=b'{"key":"c_ct6","value":"\xff"}',
            content_type="application/json",
        ),
        Case("create key 512 ok", "POST", X(), json={"key": "c" * 512, "value": 1}),
    ]


# ---------------------------------------------------------------------------------------
# PATCH and DELETE
# ---------------------------------------------------------------------------------------


def patch_delete_cases() -> list[Case]:
    return [
        Case("setup patch target", "POST", X(), json={"key": "pd_a", "value": 1}),
        Case("patch value", "PATCH", X("pd_a"), json={"value": {"patched": [1, 2]}}),
        Case("get after patch", "GET", X("pd_a")),
        Case("patch to null", "PATCH", X("pd_a"), json={"value": None}),
        Case(
            "patch to JSON string, get deserialized", "PATCH", X("pd_a"), json={"value": "[1, 2]"}
        ),
        Case("get patched deserialize", "GET", X("pd_a"), params=[("deserialize", "true")]),
        Case("patch map_index -1 explicit", "PATCH", X("pd_a"), json={"value": 2, "map_index": -1}),
        Case("patch map_index 0 missing", "PATCH", X("pd_a"), json={"value": 2, "map_index": 0}),
        Case("patch map_index -2", "PATCH", X("pd_a"), json={"value": 2, "map_index": -2}),
        Case("patch map_index x", "PATCH", X("pd_a"), json={"value": 2, "map_index": "x"}),
        Case(
            "patch map_index in query ignored",
            "PATCH",
            X("pd_a"),
            params=[("map_index", "0")],
            json={"value": 3},
        ),
        Case("patch missing key", "PATCH", X("nope"), json={"value": 1}),
        Case("patch unknown dag", "PATCH", X("pd_a", dag="nodag"), json={"value": 1}),
        Case("patch unknown run", "PATCH", X("pd_a", run="norun"), json={"value": 1}),
        Case("patch unknown task", "PATCH", X("pd_a", task="notask"), json={"value": 1}),
        Case("patch with key field", "PATCH", X("pd_a"), json={"key": "pd_a", "value": 9}),
        Case("patch empty object", "PATCH", X("pd_a"), json={}),
        Case("patch reserved", "PATCH", X("pd_a"), json={"value": {"x": {"__var": 1}}}),
        Case(
            "patch reserved in JSON string",
            "PATCH",
            X("pd_a"),
            json={"value": '{"__classname__": 1}'},
        ),
        Case(
            "patch body not json",
            "PATCH",
            X("pd_a"),
            content="nope",
            content_type="application/json",
        ),
        Case("patch body array", "PATCH", X("pd_a"), json=[1]),
        Case(
            "patch text/plain", "PATCH", X("pd_a"), content='{"value":1}', content_type="text/plain"
        ),
        Case(
            "patch NaN",
            "PATCH",
            X("pd_a"),
            content='{"value":NaN}',
            content_type="application/json",
        ),
        Case("get after NaN patch stringify", "GET", X("pd_a"), params=[("stringify", "true")]),
        Case("setup delete target", "POST", X(), json={"key": "pd_b", "value": 1}),
        Case("delete", "DELETE", X("pd_b")),
        Case("delete again", "DELETE", X("pd_b")),
        Case("get deleted", "GET", X("pd_b")),
        Case("delete map_index 0", "DELETE", X("pd_a"), params=[("map_index", "0")]),
        Case("delete map_index -2", "DELETE", X("pd_a"), params=[("map_index", "-2")]),
        Case("delete map_index x", "DELETE", X("pd_a"), params=[("map_index", "x")]),
        Case("delete unknown dag", "DELETE", X("pd_a", dag="nodag")),
        Case("delete unknown run", "DELETE", X("pd_a", run="norun")),
        Case("delete unknown task", "DELETE", X("pd_a", task="notask")),
        Case("setup delete with body", "POST", X(), json={"key": "pd_c", "value": 1}),
        Case("delete with JSON body ignored", "DELETE", X("pd_c"), json={"map_index": 5}),
        Case("recreate after delete", "POST", X(), json={"key": "pd_b", "value": "again"}),
        Case("get recreated", "GET", X("pd_b")),
    ]


# ---------------------------------------------------------------------------------------
# Lists (run on a state made by the cases above; each list case sees the same rows)
# ---------------------------------------------------------------------------------------

LIST_SETUP: list[tuple[str, str, str, str, Any]] = [
    # (dag, run, task, key, value)
    ("xcom_demo", "run_2", "transform", "l_alpha", 1),
    ("xcom_demo", "run_2", "transform", "l_beta", 2),
    ("xcom_demo", "run_2", "load", "L_Gamma", 3),
    ("xcom_demo", "run_2", "load", "l_a b", 4),
    ("xcom_demo", "run_2", "load", "l_a.b", 5),
    ("xcom_demo", "run_2", "extract", "l_pct%key", 6),
    ("etl_daily", "daily_1", "fetch", "l_daily", 7),
    ("etl_daily", "daily_1", "store", "l_ключ☃", 8),
]


def list_cases() -> list[Case]:
    cases = [
        Case(
            f"list setup {key}",
            "POST",
            X(dag=dag, run=run, task=task),
            json={"key": key, "value": value},
        )
        for dag, run, task, key, value in LIST_SETUP
    ]
    run2 = X(run="run_2", task="~")
    allx = X(dag="~", run="~", task="~")

    def L(name: str, path: str, params: list[tuple[str, str]], **kw: Any) -> Case:
        return Case(f"list {name}", "GET", path, params=params, **kw)

    cases += [
        L("one task", X(), []),
        L("one task limit 100", X(), [("limit", "100")]),
        L("run_2 all tasks", run2, []),
        L("all", allx, [("limit", "100")]),
        L("all offset 50", allx, [("limit", "100"), ("offset", "50")]),
        L("~ dag only", X(dag="~"), []),
        L("~ run only", X(run="~"), []),
        L("~ dag and run", X(dag="~", run="~"), [("limit", "100")]),
        L("~ run and task", X(run="~", task="~"), [("limit", "100")]),
        L("~ dag and task", X(dag="~", task="~"), []),
        L("unknown dag", X(dag="nodag"), []),
        L("unknown run", X(run="norun"), []),
        L("unknown task", X(task="notask"), []),
        L("limit 0", allx, [("limit", "0")]),
        L("limit 1", allx, [("limit", "1")]),
        L("limit 101 capped", allx, [("limit", "101")]),
        L("limit 1000 capped", allx, [("limit", "1000")]),
        L("limit -1", allx, [("limit", "-1")]),
        L("limit x", allx, [("limit", "x")]),
        L("limit empty", allx, [("limit", "")]),
        L("offset -1", allx, [("offset", "-1")]),
        L("offset x", allx, [("offset", "x")]),
        L("offset past end", allx, [("offset", "100000")]),
        L("offset and limit", run2, [("offset", "2"), ("limit", "3")]),
        L("limit and offset both bad", allx, [("limit", "-1"), ("offset", "-1")]),
        L("order key", run2, [("order_by", "key")]),
        L("order -key", run2, [("order_by", "-key")]),
        L("order dag_id", allx, [("order_by", "dag_id"), ("limit", "100")]),
        L("order -dag_id", allx, [("order_by", "-dag_id"), ("limit", "100")]),
        L(
            "order run_id",
            X(dag="~", run="~", task="~"),
            [("order_by", "run_id"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L("order -run_id", allx, [("order_by", "-run_id"), ("xcom_key_prefix_pattern", "l_")]),
        L("order task_id", run2, [("order_by", "task_id")]),
        L("order -task_id", run2, [("order_by", "-task_id")]),
        L("order map_index", run2, [("order_by", "map_index")]),
        L("order -map_index", run2, [("order_by", "-map_index")]),
        L("order timestamp", run2, [("order_by", "timestamp")]),
        L("order -timestamp", run2, [("order_by", "-timestamp")]),
        L("order run_after", allx, [("order_by", "run_after"), ("xcom_key_prefix_pattern", "l_")]),
        L(
            "order -run_after",
            allx,
            [("order_by", "-run_after"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "order two fields",
            allx,
            [("order_by", "-dag_id"), ("order_by", "key"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L("order logical_date disallowed", allx, [("order_by", "logical_date")]),
        L("order -value disallowed", allx, [("order_by", "-value")]),
        L("order id disallowed", allx, [("order_by", "id")]),
        L("order dag_display_name disallowed", allx, [("order_by", "dag_display_name")]),
        L("order empty disallowed", allx, [("order_by", "")]),
        L("order comma list disallowed", allx, [("order_by", "-dag_id,key")]),
        L("order 10 ok", run2, [("order_by", "key")] * 10),
        L("order 11 too many", run2, [("order_by", "key")] * 11),
        L("key pattern", allx, [("xcom_key_pattern", "alpha")]),
        L("key pattern case-insensitive", allx, [("xcom_key_pattern", "GAMMA")]),
        L("key pattern underscore wildcard", run2, [("xcom_key_pattern", "l_a_b")]),
        L("key pattern percent", allx, [("xcom_key_pattern", "pct%key")]),
        L("key pattern OR", allx, [("xcom_key_pattern", "alpha | daily")]),
        L("key pattern ~", run2, [("xcom_key_pattern", "~")]),
        L("key pattern empty", run2, [("xcom_key_pattern", "")]),
        L("key pattern star literal", allx, [("xcom_key_pattern", "*")]),
        L("key pattern backslash", allx, [("xcom_key_pattern", "l\\_alpha")]),
        L("key pattern unicode upper", allx, [("xcom_key_pattern", "КЛЮЧ")]),
        L("key pattern unicode", allx, [("xcom_key_pattern", "ключ")]),
        L("key prefix", allx, [("xcom_key_prefix_pattern", "l_a")]),
        L("key prefix case-sensitive", allx, [("xcom_key_prefix_pattern", "L_")]),
        L("key prefix trailing underscore", allx, [("xcom_key_prefix_pattern", "l_")]),
        L("key prefix trailing percent", allx, [("xcom_key_prefix_pattern", "l%")]),
        L("key prefix underscore inside", allx, [("xcom_key_prefix_pattern", "l_al")]),
        L("key prefix only symbols", run2, [("xcom_key_prefix_pattern", "%")]),
        L("key prefix ~", run2, [("xcom_key_prefix_pattern", "~")]),
        L("key prefix OR", allx, [("xcom_key_prefix_pattern", "l_b|L_G")]),
        L("key prefix unicode", allx, [("xcom_key_prefix_pattern", "l_ключ")]),
        L(
            "dag display name pattern",
            allx,
            [("dag_display_name_pattern", "etl"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "dag display name prefix",
            allx,
            [("dag_display_name_prefix_pattern", "ETL"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L("dag display name prefix lower", allx, [("dag_display_name_prefix_pattern", "etl")]),
        L("run id pattern", allx, [("run_id_pattern", "DAILY")]),
        L("run id prefix", allx, [("run_id_prefix_pattern", "run_2")]),
        L("task id pattern", allx, [("task_id_pattern", "LOA")]),
        L("task id prefix", allx, [("task_id_prefix_pattern", "sto")]),
        L("xcom_key exact", allx, [("xcom_key", "l_alpha")]),
        L("xcom_key exact case", allx, [("xcom_key", "L_ALPHA")]),
        L("xcom_key slash", allx, [("xcom_key", "k/a/b")]),
        L("map_index -1", run2, [("map_index", "-1")]),
        L("map_index 0", run2, [("map_index", "0")]),
        L("map_index -2", run2, [("map_index", "-2")]),
        L("map_index x", run2, [("map_index", "x")]),
        L("map_index_filter -1", run2, [("map_index_filter", "-1")]),
        L("map_index_filter -5", run2, [("map_index_filter", "-5")]),
        L("map_index_filter x", run2, [("map_index_filter", "x")]),
        L(
            "logical_date_gte Z",
            allx,
            [("logical_date_gte", "2025-01-01T06:00:00Z"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "logical_date_gt +00:00",
            allx,
            [("logical_date_gt", "2025-01-01T06:00:00+00:00"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "logical_date_lte +01:00",
            allx,
            [("logical_date_lte", "2025-01-01T07:00:00+01:00"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "logical_date_lt unix",
            allx,
            [("logical_date_lt", "1735711200"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L(
            "logical_date range",
            allx,
            [
                ("logical_date_gte", "2025-01-01T00:00:00Z"),
                ("logical_date_lt", "2025-01-02T00:00:00Z"),
                ("xcom_key_prefix_pattern", "l_"),
            ],
        ),
        L("logical_date garbage", allx, [("logical_date_gte", "garbage")]),
        L("logical_date month 13", allx, [("logical_date_gte", "2025-13-01T00:00:00Z")]),
        L(
            "run_after_gte far past",
            allx,
            [("run_after_gte", "2000-01-01T00:00:00Z"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L("run_after_lt far past", allx, [("run_after_lt", "2000-01-01T00:00:00Z")]),
        L("run_after_gt far future", allx, [("run_after_gt", "2100-01-01T00:00:00Z")]),
        L(
            "run_after_lte far future",
            allx,
            [("run_after_lte", "2100-01-01T00:00:00Z"), ("xcom_key_prefix_pattern", "l_")],
        ),
        L("run_after garbage", allx, [("run_after_lte", "nope")]),
        L(
            "all filters together",
            allx,
            [
                ("xcom_key_pattern", "l_"),
                ("dag_display_name_pattern", "demo"),
                ("run_id_pattern", "run"),
                ("task_id_pattern", "a"),
                ("map_index", "-1"),
                ("logical_date_gte", "2025-01-02T00:00:00Z"),
                ("order_by", "-key"),
                ("limit", "2"),
                ("offset", "1"),
            ],
        ),
        L("unknown param ignored", run2, [("foo", "bar")]),
        L("limit repeated", run2, [("limit", "1"), ("limit", "2")]),
        L("xcom_key repeated", allx, [("xcom_key", "l_alpha"), ("xcom_key", "l_beta")]),
    ]
    return cases


# ---------------------------------------------------------------------------------------
# Auth
# ---------------------------------------------------------------------------------------


def auth_cases() -> list[Case]:
    one = X("val_int")
    nf = "Not authenticated"
    cases = [
        Case("auth none read", "GET", one, auth=None),
        Case("auth none list", "GET", X(), auth=None),
        Case("auth none write", "POST", X(), auth=None, json={"key": "a_1", "value": 1}),
        Case("auth none invalid body", "POST", X(), auth=None, json={"key": 1}),
        Case("auth none unknown dag", "GET", X("x", dag="nodag"), auth=None),
        Case("auth basic", "GET", one, auth="raw:Basic YWRtaW46YWRtaW4="),
        Case("auth bearer no token", "GET", one, auth="raw:Bearer"),
        Case("auth token without scheme", "GET", one, auth="raw:{token}"),
        Case("auth lower-case bearer", "GET", one, auth="raw:bearer {token}"),
        Case("auth BEARER upper", "GET", one, auth="raw:BEARER {token}"),
        Case("auth garbage token", "GET", one, auth="raw:Bearer garbage"),
        Case("auth three dots", "GET", one, auth="raw:Bearer a.b.c"),
        Case("auth forged valid admin", "GET", one, auth="forge:valid_admin"),
        Case("auth expired", "GET", one, auth="forge:expired"),
        Case(
            "auth expired write", "POST", X(), auth="forge:expired", json={"key": "a_2", "value": 1}
        ),
        Case("auth other secret", "GET", one, auth="forge:other_secret"),
        Case("auth alg none", "GET", one, auth="forge:alg_none"),
        Case("auth hs256 right secret", "GET", one, auth="forge:hs256"),
        Case("auth no aud", "GET", one, auth="forge:no_aud"),
        Case("auth wrong aud", "GET", one, auth="forge:wrong_aud"),
        Case("auth no exp", "GET", one, auth="forge:no_exp"),
        Case("auth nbf future", "GET", one, auth="forge:nbf_future"),
        Case("auth no role", "GET", one, auth="forge:no_role"),
        Case(
            "auth forged viewer writing",
            "POST",
            X(),
            auth="forge:role_viewer",
            json={"key": "a_3", "value": 1},
        ),
        Case(
            "auth sub viewer role admin writes",
            "POST",
            X(),
            auth="forge:sub_viewer_role_admin",
            json={"key": "a_4", "value": 1},
        ),
        Case("auth sub nobody role admin reads", "GET", one, auth="forge:sub_nobody_role_admin"),
        Case(
            "auth other secret on unknown path", "GET", "/api/v2/nothing", auth="forge:other_secret"
        ),
    ]
    for role in ("viewer", "user", "op", "admin"):
        cases.append(Case(f"auth {role} reads one", "GET", one, auth=role))
        cases.append(Case(f"auth {role} lists", "GET", X(), auth=role, params=[("limit", "2")]))
    cases += [
        Case("auth viewer creates", "POST", X(), auth="viewer", json={"key": "a_v1", "value": 1}),
        Case("auth viewer patches", "PATCH", X("val_int"), auth="viewer", json={"value": 1}),
        Case("auth viewer deletes", "DELETE", X("val_int"), auth="viewer"),
        Case("auth viewer invalid body", "POST", X(), auth="viewer", json={"key": 1}),
        Case(
            "auth viewer unknown dag",
            "POST",
            X(dag="nodag"),
            auth="viewer",
            json={"key": "a_v2", "value": 1},
        ),
        Case("auth viewer patch missing", "PATCH", X("nope"), auth="viewer", json={"value": 1}),
        Case(
            "auth viewer triggers run",
            "POST",
            "/api/v2/dags/xcom_demo/dagRuns",
            auth="viewer",
            json={"dag_run_id": "a_vrun", "logical_date": None},
        ),
        Case("auth user creates", "POST", X(), auth="user", json={"key": "a_u1", "value": 1}),
        Case("auth op creates", "POST", X(), auth="op", json={"key": "a_o1", "value": 1}),
        Case("auth user patches", "PATCH", X("a_u1"), auth="user", json={"value": 2}),
        Case("auth op deletes", "DELETE", X("a_o1"), auth="op"),
        Case("auth user deletes", "DELETE", X("a_u1"), auth="user"),
    ]
    assert nf
    return cases


def login_cases() -> list[Case]:
    return [
        Case(
            "login json",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "admin", "password": "{password:admin}"},
        ),
        Case(
            "login form",
            "POST",
            "/auth/token",
            auth=None,
            content="username=viewer&password={password:viewer}",
            content_type="application/x-www-form-urlencoded",
        ),
        Case(
            "login wrong password",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "admin", "password": "wrong"},
        ),
        Case(
            "login unknown user",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "nobody", "password": "wrong"},
        ),
        Case(
            "login empty password",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "admin", "password": ""},
        ),
        Case(
            "login missing password", "POST", "/auth/token", auth=None, json={"username": "admin"}
        ),
        Case("login empty object", "POST", "/auth/token", auth=None, json={}),
        Case(
            "login form missing password",
            "POST",
            "/auth/token",
            auth=None,
            content="username=admin",
            content_type="application/x-www-form-urlencoded",
        ),
        Case(
            "login extra field",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "admin", "password": "x", "x": 1},
        ),
        Case(
            "login password int",
            "POST",
            "/auth/token",
            auth=None,
            json={"username": "admin", "password": 123},
        ),
        Case(
            "login text/plain",
            "POST",
            "/auth/token",
            auth=None,
            content='{"username":"admin","password":"x"}',
            content_type="text/plain",
        ),
        Case("login GET", "GET", "/auth/token", auth=None),
        Case("login GET /login", "GET", "/auth/token/login", auth=None),
        Case(
            "login cli json",
            "POST",
            "/auth/token/cli",
            auth=None,
            json={"username": "op", "password": "{password:op}"},
        ),
        Case(
            "login cli wrong password",
            "POST",
            "/auth/token/cli",
            auth=None,
            json={"username": "op", "password": "nope"},
        ),
    ]


# ---------------------------------------------------------------------------------------
# DAG runs, version, health, methods, unknown paths
# ---------------------------------------------------------------------------------------


def other_cases() -> list[Case]:
    runs = "/api/v2/dags/xcom_demo/dagRuns"
    return [
        Case(
            "dagrun create",
            "POST",
            runs,
            json={"dag_run_id": "c_run_a", "logical_date": "2025-02-01T00:00:00Z"},
        ),
        Case(
            "dagrun create null logical_date",
            "POST",
            runs,
            json={"dag_run_id": "c_run_b", "logical_date": None},
        ),
        Case(
            "dagrun create with run_after conf note",
            "POST",
            runs,
            json={
                "dag_run_id": "c_run_c",
                "logical_date": "2025-02-03T00:00:00Z",
                "run_after": "2025-03-01T00:00:00Z",
                "conf": {"a": [1]},
                "note": "hi",
            },
        ),
        Case("dagrun create missing logical_date", "POST", runs, json={"dag_run_id": "c_run_d"}),
        Case(
            "dagrun create naive date",
            "POST",
            runs,
            json={"dag_run_id": "c_run_e", "logical_date": "2025-02-05T00:00:00"},
        ),
        Case(
            "dagrun create duplicate id",
            "POST",
            runs,
            json={"dag_run_id": "c_run_a", "logical_date": "2025-02-07T00:00:00Z"},
        ),
        Case(
            "dagrun create duplicate logical_date",
            "POST",
            runs,
            json={"dag_run_id": "c_run_f", "logical_date": "2025-02-01T00:00:00Z"},
        ),
        Case(
            "dagrun create unknown dag",
            "POST",
            "/api/v2/dags/nodag/dagRuns",
            json={"dag_run_id": "c_run_g", "logical_date": None},
        ),
        Case(
            "dagrun create ~ dag",
            "POST",
            "/api/v2/dags/~/dagRuns",
            json={"dag_run_id": "c_run_h", "logical_date": None},
        ),
        Case(
            "dagrun create extra field",
            "POST",
            runs,
            json={"dag_run_id": "c_run_i", "logical_date": None, "zzz": 1},
        ),
        Case("dagrun get one", "GET", runs + "/run_1"),
        Case("dagrun get created", "GET", runs + "/c_run_a"),
        Case("dagrun get missing", "GET", runs + "/norun"),
        Case("dagrun get other dag's run", "GET", runs + "/daily_1"),
        Case("dagrun get unknown dag", "GET", "/api/v2/dags/nodag/dagRuns/run_1"),
        Case("dagrun list", "GET", runs),
        Case("dagrun list ~", "GET", "/api/v2/dags/~/dagRuns"),
        Case("dagrun list unknown dag", "GET", "/api/v2/dags/nodag/dagRuns"),
        Case("dagrun list limit offset", "GET", runs, params=[("limit", "1"), ("offset", "1")]),
        Case("patch ~ dag", "PATCH", X("val_int", dag="~"), json={"value": 1}),
        Case("delete ~ run", "DELETE", X("val_int", run="~")),
        Case("xcom on new run", "POST", X(run="c_run_c"), json={"key": "o_new", "value": 1}),
        Case("xcom on new run get", "GET", X("o_new", run="c_run_c")),
        Case(
            "xcom on null-logical-date run",
            "POST",
            X(run="c_run_b"),
            json={"key": "o_null_ld", "value": 1},
        ),
        Case("xcom on null-logical-date run get", "GET", X("o_null_ld", run="c_run_b")),
        Case("version", "GET", "/api/v2/version", auth=None),
        Case("health", "GET", "/api/v2/monitor/health", auth=None),
        Case("unknown api path", "GET", "/api/v2/nothing"),
        Case("unknown api path no auth", "GET", "/api/v2/nothing", auth=None),
        Case("version trailing slash", "GET", "/api/v2/version/", auth=None),
        Case("double slash", "GET", "/api/v2//version", auth=None),
        Case("api v1", "GET", "/api/v1/dags", auth=None),
        Case(
            "PUT on collection",
            "PUT",
            X(),
            json={"key": "m_1", "value": 1},
            compare_headers=("allow",),
        ),
        Case("PUT on entry", "PUT", X("val_int"), json={"value": 1}, compare_headers=("allow",)),
        Case("DELETE on collection", "DELETE", X(), compare_headers=("allow",)),
        Case(
            "POST with trailing slash",
            "POST",
            X() + "/",
            json={"key": "m_2", "value": 1},
            compare_headers=("allow",),
        ),
        Case("OPTIONS on entry", "OPTIONS", X("val_int"), compare_headers=("allow",)),
    ]


def all_cases() -> list[Case]:
    """The whole corpus, in the order it is sent."""
    cases = (
        value_cases()
        + number_form_cases()
        + key_cases()
        + get_one_cases()
        + create_error_cases()
        + patch_delete_cases()
        + list_cases()
        + auth_cases()
        + login_cases()
        + other_cases()
        + dagrun_list_cases()
        + dagrun_write_cases()
        + envelope_cases()
        + divergent_cases()
    )
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate case names: {sorted(dupes)}")
    return cases


NUL_WHY = (
    "xcomkit refuses a NUL character (\\x00) in query text and in body fields stored as "
    "columns with 422 on every backend (SQLite cuts text at NUL, so a pattern would match "
    "everything; PostgreSQL cannot store it); Airflow on SQLite stores or matches it"
)


def divergent_cases() -> list[Case]:
    """Cases where Airflow answers 5xx or xcomkit differs on purpose (run last).

    Some leave state on one server only (an XCom at map_index 0 that Airflow refused,
    a 513-character key that xcomkit refused), so they use the ``load`` task of run_1,
    which no earlier case lists, and come after every list case.
    """
    load = X(task="load")
    no_ti = (
        "Airflow answers 500 (no task instance with that map_index); xcomkit keeps no task "
        "instances and accepts XComs of mapped tasks"
    )
    aware = (
        "Airflow answers 500 (database error) for a date without time zone; xcomkit "
        "requires timezone-aware datetimes (pydantic AwareDatetime)"
    )
    return [
        Case(
            "div create map_index 0",
            "POST",
            load,
            json={"key": "d_m0", "value": 1, "map_index": 0},
            expect_xcomkit=(
                201,
                where("the XCom at map_index 0", lambda b: b["map_index"] == 0 and b["value"] == 1),
            ),
            why=no_ti,
        ),
        Case(
            "div create map_index 5",
            "POST",
            load,
            json={"key": "d_m5", "value": "five", "map_index": 5},
            expect_xcomkit=(201, where("the XCom at map_index 5", lambda b: b["map_index"] == 5)),
            why=no_ti,
        ),
        Case(
            "div create map_index true",
            "POST",
            load,
            json={"key": "d_mtrue", "value": 1, "map_index": True},
            expect_xcomkit=(201, where("the XCom at map_index 1", lambda b: b["map_index"] == 1)),
            why=no_ti,
        ),
        Case(
            'div create map_index "3"',
            "POST",
            load,
            json={"key": "d_m3", "value": 1, "map_index": "3"},
            expect_xcomkit=(201, where("the XCom at map_index 3", lambda b: b["map_index"] == 3)),
            why=no_ti,
        ),
        Case(
            "div get map_index 5",
            "GET",
            X("d_m5", task="load"),
            params=[("map_index", "5")],
            expect_xcomkit=(
                200,
                where("the XCom", lambda b: b["map_index"] == 5 and b["value"] == "five"),
            ),
            why="the XCom exists only in xcomkit (see create map_index 5)",
        ),
        Case(
            "div list map_index 5",
            "GET",
            load,
            params=[("map_index", "5")],
            expect_xcomkit=(200, where("one entry", lambda b: b["total_entries"] == 1)),
            why="the XCom exists only in xcomkit (see create map_index 5)",
        ),
        Case(
            "div patch map_index 5",
            "PATCH",
            X("d_m5", task="load"),
            json={"value": "six", "map_index": 5},
            expect_xcomkit=(200, where("the patched XCom", lambda b: b["value"] == "six")),
            why="the XCom exists only in xcomkit (see create map_index 5)",
        ),
        Case(
            "div delete map_index 5",
            "DELETE",
            X("d_m5", task="load"),
            params=[("map_index", "5")],
            expect_xcomkit=(204, ""),
            why="the XCom exists only in xcomkit (see create map_index 5)",
        ),
        Case(
            "div create map_index -2",
            "POST",
            load,
            json={"key": "d_mneg", "value": 1, "map_index": -2},
            expect_xcomkit=(422, is_422_at(["body", "map_index"])),
            why="Airflow answers 500; xcomkit validates map_index >= -1 (pydantic ge)",
        ),
        Case(
            'div create key ""',
            "POST",
            load,
            json={"key": "", "value": 1},
            expect_xcomkit=(422, is_422_at(["body", "key"])),
            why="Airflow answers 500; xcomkit validates the key (pydantic min_length=1)",
        ),
        Case(
            "div create key 513 chars",
            "POST",
            load,
            json={"key": "d" * 513, "value": 1},
            expect_xcomkit=(422, is_422_at(["body", "key"])),
            why="Airflow on SQLite stores it (its column is VARCHAR(512)); xcomkit validates "
            "max_length=512",
        ),
        Case(
            "div create key 513 and map_index -2",
            "POST",
            load,
            json={"key": "e" * 513, "value": 1, "map_index": -2},
            expect_xcomkit=(422, is_422_at(["body", "key"], ["body", "map_index"])),
            why="Airflow answers 500; xcomkit reports both validation errors",
        ),
        Case(
            "div get empty key",
            "GET",
            X() + "/",
            expect_xcomkit=(404, xcom_not_found("")),
            why="Airflow answers 500 for GET with an empty key (trailing slash); xcomkit "
            "answers key-not-found",
        ),
        Case(
            "div list bare date",
            "GET",
            X(dag="~", run="~", task="~"),
            params=[("logical_date_gte", "2025-01-01")],
            expect_xcomkit=(422, is_422_at(["query", "logical_date_gte"])),
            why=aware,
        ),
        Case(
            "div list date with space no tz",
            "GET",
            X(dag="~", run="~", task="~"),
            params=[("run_after_lt", "2025-01-01 06:00")],
            expect_xcomkit=(422, is_422_at(["query", "run_after_lt"])),
            why=aware,
        ),
        Case(
            "div list naive datetime",
            "GET",
            X(dag="~", run="~", task="~"),
            params=[("logical_date_lte", "2025-01-01T06:00:00")],
            expect_xcomkit=(422, is_422_at(["query", "logical_date_lte"])),
            why=aware,
        ),
        Case(
            "div login no body",
            "POST",
            "/auth/token",
            auth=None,
            expect_xcomkit=(
                422,
                where(
                    "a JSON error",
                    lambda b: b["detail"].startswith("Request body is not valid JSON"),
                ),
            ),
            why="Both read a body without Content-Type as JSON; for no body at all Airflow "
            "answers 500, xcomkit 422",
        ),
        Case(
            "div login malformed JSON",
            "POST",
            "/auth/token",
            auth=None,
            content='{"username": "admin",',
            content_type="application/json",
            expect_xcomkit=(422, ANY),
            why="Airflow answers 500 for malformed login JSON; xcomkit answers 422",
        ),
        Case(
            "div dagrun create +02:00",
            "POST",
            "/api/v2/dags/xcom_demo/dagRuns",
            json={"dag_run_id": "d_run_tz", "logical_date": "2025-02-06T02:00:00+02:00"},
            expect_xcomkit=(
                200,
                where(
                    "logical_date 2025-02-06T00:00:00Z",
                    lambda b: b["logical_date"] == "2025-02-06T00:00:00Z",
                ),
            ),
            why="Airflow echoes the given offset once in the trigger answer (every later read "
            "says Z); xcomkit answers in UTC Z form every time",
        ),
        Case("div dagrun get +02:00", "GET", "/api/v2/dags/xcom_demo/dagRuns/d_run_tz"),
        Case("HEAD on entry", "HEAD", X("val_int"), compare_headers=("allow",)),
        Case(
            "div get map_index huge",
            "GET",
            X("val_int"),
            params=[("map_index", str(2**70))],
            expect_xcomkit=(422, is_422_at(["query", "map_index"])),
            why="Airflow answers 500 for a map_index beyond its 32-bit column; xcomkit "
            "answers 422 (less_than_equal 2147483647) here and wherever a map_index is taken",
        ),
        Case(
            "div create key with newline",
            "POST",
            load,
            json={"key": "c_nl\nx", "value": 1},
            expect_xcomkit=(422, is_422_at(["body", "key"])),
            why="Airflow stores it (201), but its {xcom_key:path} route cannot match a line "
            "feed, so that XCom can never be read, updated or deleted; xcomkit refuses it",
        ),
        Case(
            "div patch on collection",
            "PATCH",
            X(),
            json={"value": 1},
            expect_xcomkit=(405, detail("Method Not Allowed")),
            why="Airflow's answer (422 on path map_index) comes from an unrelated "
            "task-instance route that happens to match; xcomkit has no such route: 405",
        ),
        Case(
            "div login form without content type",
            "POST",
            "/auth/token",
            auth=None,
            content="username=admin&password={password:admin}",
            expect_xcomkit=(422, where("a JSON error", lambda b: "not valid JSON" in b["detail"])),
            why="Both read a body without Content-Type as JSON; Airflow answers 500 when it is "
            "not JSON, xcomkit 422",
        ),
        Case(
            "div dagruns naive datetime",
            "GET",
            ALL_RUNS,
            params=[("run_after_gte", "2025-01-01T00:00:00")],
            expect_xcomkit=(422, is_422_at(["query", "run_after_gte"])),
            why=aware,
        ),
        Case(
            "div dagruns forged cursor value type",
            "GET",
            ALL_RUNS,
            params=[("cursor", "kaFh")],
            expect_xcomkit=(400, detail("Invalid cursor token")),
            why="A cursor whose value does not fit its column (here the text 'a' for the "
            "integer id) is one no server wrote: Airflow hands it to the database (SQLite "
            "then answers an empty page, PostgreSQL an error), xcomkit refuses it as an "
            "invalid cursor",
        ),
        Case(
            "div create key with NUL",
            "POST",
            load,
            json={"key": "nul\u0000key", "value": 1},
            expect_xcomkit=(422, is_422_at(["body"])),
            why=NUL_WHY,
        ),
        Case(
            "div list xcom_key with NUL",
            "GET",
            load,
            params=[("xcom_key", "a\x00b")],
            expect_xcomkit=(422, is_422_at(["query", "xcom_key"])),
            why=NUL_WHY,
        ),
        Case(
            "div list xcom_key_pattern with NUL",
            "GET",
            load,
            params=[("xcom_key_pattern", "%\x00x")],
            expect_xcomkit=(422, is_422_at(["query", "xcom_key_pattern"])),
            why=NUL_WHY,
        ),
        Case(
            "div list order_by with NUL",
            "GET",
            load,
            params=[("order_by", "key\x00")],
            expect_xcomkit=(422, is_422_at(["query", "order_by"])),
            why=NUL_WHY,
        ),
        Case(
            "div dagruns run_id_pattern with NUL",
            "GET",
            ALL_RUNS,
            params=[("run_id_pattern", "%\x00x")],
            expect_xcomkit=(422, is_422_at(["query", "run_id_pattern"])),
            why=NUL_WHY,
        ),
        Case(
            "div create lone surrogate value",
            "POST",
            load,
            content='{"key": "d_surrogate", "value": "\\ud800"}',
            content_type="application/json",
            expect_xcomkit=(422, is_422_at(["body"])),
            why="Airflow answers 500 (its database cannot store a lone UTF-16 surrogate); "
            "xcomkit refuses such text in any request body with 422",
        ),
        Case(
            "div create value nested 300 levels",
            "POST",
            load,
            content='{"key": "d_deep", "value": ' + "[" * 300 + "1" + "]" * 300 + "}",
            content_type="application/json",
            expect_xcomkit=(422, ANY),
            why="Airflow answers 500 for values nested deeper than it can serve; xcomkit "
            "answers 422 past 254 levels (the deepest Airflow 3.3.2 serves)",
        ),
        Case("div get value nested 300 levels", "GET", X("d_deep", task="load")),
        Case(
            "div unknown non-API path",
            "GET",
            "/nope",
            auth=None,
            expect_xcomkit=(404, ANY),
            why="Airflow serves its UI's HTML page (200) for any other path; xcomkit has no UI",
        ),
    ]


# ---------------------------------------------------------------------------------------
# DAG runs: every list parameter, ordering, cursors, trigger, PATCH and DELETE
# ---------------------------------------------------------------------------------------

RUNS = "/api/v2/dags/xcom_demo/dagRuns"
ALL_RUNS = "/api/v2/dags/~/dagRuns"
#: Every ``order_by`` name Airflow allows on DAG runs.
DAG_RUN_ORDERS = (
    "id",
    "state",
    "dag_id",
    "run_id",
    "dag_run_id",
    "logical_date",
    "partition_date",
    "run_after",
    "start_date",
    "end_date",
    "updated_at",
    "conf",
    "duration",
)


def dagrun_list_cases() -> list[Case]:
    """Filters, orderings and cursor pages of ``GET /api/v2/dags/{dag_id}/dagRuns``.

    ``{next_cursor}`` and ``{previous_cursor}`` in a parameter stand for that cursor of
    the same server's previous answer (compat/run.py), so pages are followed as a
    client follows them.
    """

    def R(name: str, params: list[tuple[str, str]], path: str = ALL_RUNS, **kw: Any) -> Case:
        return Case(f"dagruns {name}", "GET", path, params=params, **kw)

    early, late = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
    cases = [
        R("state success", [("state", "success")], RUNS),
        R("state queued", [("state", "queued")]),
        R("state queued or success", [("state", "queued"), ("state", "success")]),
        R("state none", [("state", "none")]),
        R("state bogus", [("state", "bogus")]),
        R("state upper case", [("state", "QUEUED")]),
        R("state empty", [("state", "")]),
        R("run_type manual", [("run_type", "manual")]),
        R("run_type scheduled", [("run_type", "scheduled")]),
        R("run_type none", [("run_type", "none")]),
        R("run_type bogus", [("run_type", "bogus")]),
        R("run_type and state bogus", [("state", "bogus"), ("run_type", "bogus")]),
        R("run_id_pattern", [("run_id_pattern", "run_")]),
        R("run_id_pattern case", [("run_id_pattern", "RUN_1")]),
        R("run_id_pattern or", [("run_id_pattern", "run_1|c_run_a")]),
        R("run_id_pattern or spaces", [("run_id_pattern", " daily | c_run_b ")]),
        R("run_id_pattern pipe only", [("run_id_pattern", "|")]),
        R("run_id_pattern ~", [("run_id_pattern", "~")]),
        R("run_id_pattern percent", [("run_id_pattern", "c%a")]),
        R("run_id_pattern underscore", [("run_id_pattern", "run__")]),
        R("run_id_pattern no match", [("run_id_pattern", "zzz")]),
        R("run_id_prefix_pattern", [("run_id_prefix_pattern", "c_run")]),
        R("run_id_prefix_pattern case", [("run_id_prefix_pattern", "RUN")]),
        R("run_id_prefix_pattern or", [("run_id_prefix_pattern", "daily|run_2")]),
        R("run_id_prefix_pattern ~", [("run_id_prefix_pattern", "~")]),
        R("dag_id_pattern", [("dag_id_pattern", "DAILY")]),
        R("dag_id_pattern or", [("dag_id_pattern", "etl|demo")]),
        R("dag_id_prefix_pattern", [("dag_id_prefix_pattern", "xcom")]),
        R("dag_id_pattern on one dag", [("dag_id_pattern", "etl")], RUNS),
        R("triggering_user_name_pattern", [("triggering_user_name_pattern", "DMI")]),
        R("triggering_user_name_pattern none", [("triggering_user_name_pattern", "nobody")]),
        R("triggering_user_name_prefix_pattern", [("triggering_user_name_prefix_pattern", "adm")]),
        R("logical_date_gte", [("logical_date_gte", "2025-01-02T00:00:00Z")]),
        R("logical_date_gt", [("logical_date_gt", "2025-01-01T00:00:00Z")]),
        R("logical_date_lte", [("logical_date_lte", "2025-01-01T06:00:00Z")]),
        R("logical_date_lt +01:00", [("logical_date_lt", "2025-01-01T07:00:00+01:00")]),
        R(
            "logical_date range",
            [
                ("logical_date_gte", "2025-01-01T00:00:00Z"),
                ("logical_date_lt", "2025-01-02T00:00:00Z"),
            ],
        ),
        R("logical_date bad", [("logical_date_gte", "yesterday")]),
        R("run_after_gte early", [("run_after_gte", early)]),
        R("run_after_lt early", [("run_after_lt", early)]),
        R("start_date_gte early", [("start_date_gte", early)]),
        R("start_date_lte early", [("start_date_lte", early)]),
        R("start_date_lt late", [("start_date_lt", late)]),
        R("end_date_gt late", [("end_date_gt", late)]),
        R("end_date_lte early", [("end_date_lte", early)]),
        R("updated_at_gte early", [("updated_at_gte", early)]),
        R("updated_at_lt early", [("updated_at_lt", early)]),
        R("updated_at_lte late", [("updated_at_lte", late)]),
        R("duration_gte 0", [("duration_gte", "0")]),
        R("duration_gte 1", [("duration_gte", "1")]),
        R("duration_lt 5", [("duration_lt", "5")]),
        R("duration bad", [("duration_gt", "long")]),
        R("conf_contains key", [("conf_contains", "a")]),
        R("conf_contains json text", [("conf_contains", '"a": [1]')]),
        R("conf_contains compact text", [("conf_contains", '"a":[1]')]),
        R("conf_contains empty object", [("conf_contains", "{}")]),
        R("conf_contains percent", [("conf_contains", "%")]),
        R("conf_contains empty", [("conf_contains", "")]),
        R("conf_contains case", [("conf_contains", '"A"')]),
        R("dag_version 1", [("dag_version", "1")]),
        R("dag_version 2", [("dag_version", "2")]),
        R("dag_version 1 or 2", [("dag_version", "2"), ("dag_version", "1")]),
        R("dag_version bad", [("dag_version", "x")]),
        R("bundle_version", [("bundle_version", "v1")]),
        R("bundle_version empty", [("bundle_version", "")]),
        R("partition_key_pattern", [("partition_key_pattern", "pk")]),
        R("partition_key_pattern ~", [("partition_key_pattern", "~")]),
        R("partition_key_prefix_pattern ~", [("partition_key_prefix_pattern", "~")]),
        R("consuming_asset_pattern", [("consuming_asset_pattern", "asset")]),
        R("consuming_asset_pattern empty", [("consuming_asset_pattern", "")]),
        R("partition_date_gte on ~", [("partition_date_gte", "2025-01-01")]),
        R("partition_date_lte on a dag", [("partition_date_lte", "2025-01-01")], RUNS),
        R(
            "partition_date on unknown dag",
            [("partition_date_gte", "2025-01-01")],
            "/api/v2/dags/nodag/dagRuns",
        ),
        R("partition_date bad", [("partition_date_gte", "Jan 1")], RUNS),
        R("unknown parameter", [("no_such_filter", "x")]),
        R(
            "filters combined",
            [
                ("state", "queued"),
                ("run_id_pattern", "run"),
                ("dag_id_prefix_pattern", "xcom"),
                ("logical_date_gte", "2025-01-02T00:00:00Z"),
            ],
        ),
        R("total with filter and limit", [("run_id_pattern", "run"), ("limit", "1")]),
    ]
    for name in DAG_RUN_ORDERS:
        cases.append(R(f"order {name}", [("order_by", name)]))
        cases.append(R(f"order -{name}", [("order_by", f"-{name}")]))
    cases += [
        R("order two fields", [("order_by", "-dag_id"), ("order_by", "run_id")]),
        R("order state then -id", [("order_by", "state"), ("order_by", "-id")]),
        R("order run_type", [("order_by", "run_type")]),
        R("order queued_at", [("order_by", "queued_at")]),
        R("order -nope", [("order_by", "-nope")]),
        R("order empty", [("order_by", "")]),
        R("order 11 fields", [("order_by", "id")] * 11),
        R("order bad on unknown dag", [("order_by", "nope")], "/api/v2/dags/nodag/dagRuns"),
        # Cursor pages, followed forward and back.
        R("cursor first page", [("limit", "2"), ("cursor", "")]),
        R("cursor page 2", [("limit", "2"), ("cursor", "{next_cursor}")]),
        R("cursor page 3", [("limit", "2"), ("cursor", "{next_cursor}")]),
        R("cursor back to page 2", [("limit", "2"), ("cursor", "{previous_cursor}")]),
        R("cursor back to page 1", [("limit", "2"), ("cursor", "{previous_cursor}")]),
        R("cursor desc first", [("limit", "3"), ("cursor", ""), ("order_by", "-logical_date")]),
        R(
            "cursor desc next",
            [("limit", "3"), ("cursor", "{next_cursor}"), ("order_by", "-logical_date")],
        ),
        R(
            "cursor desc back",
            [("limit", "3"), ("cursor", "{previous_cursor}"), ("order_by", "-logical_date")],
        ),
        R("cursor run_id first", [("limit", "1"), ("cursor", ""), ("order_by", "run_id")], RUNS),
        R(
            "cursor run_id next",
            [("limit", "1"), ("cursor", "{next_cursor}"), ("order_by", "run_id")],
            RUNS,
        ),
        R("cursor updated_at first", [("limit", "4"), ("cursor", ""), ("order_by", "-updated_at")]),
        R(
            "cursor updated_at next",
            [("limit", "4"), ("cursor", "{next_cursor}"), ("order_by", "-updated_at")],
        ),
        R("cursor conf first", [("limit", "2"), ("cursor", ""), ("order_by", "conf")]),
        R("cursor conf next", [("limit", "2"), ("cursor", "{next_cursor}"), ("order_by", "conf")]),
        R("cursor duration first", [("limit", "2"), ("cursor", ""), ("order_by", "duration")]),
        R(
            "cursor duration next",
            [("limit", "2"), ("cursor", "{next_cursor}"), ("order_by", "duration")],
        ),
        R(
            "cursor with filter",
            [("limit", "1"), ("cursor", ""), ("state", "queued"), ("run_id_prefix_pattern", "run")],
        ),
        R(
            "cursor with filter next",
            [
                ("limit", "1"),
                ("cursor", "{next_cursor}"),
                ("state", "queued"),
                ("run_id_prefix_pattern", "run"),
            ],
        ),
        R("cursor all in one page", [("limit", "100"), ("cursor", "")]),
        R("cursor limit 0", [("limit", "0"), ("cursor", "")]),
        R("cursor ignores offset", [("limit", "1"), ("offset", "3"), ("cursor", "")]),
        R("cursor garbage", [("cursor", "not a cursor!")]),
        R("cursor ~ alone", [("cursor", "~")]),
        R("cursor not a list", [("cursor", "gA")]),
        R("cursor wrong width", [("cursor", "kQE")]),
        R("cursor of another order", [("cursor", "kQE"), ("order_by", "run_id")]),
        R("cursor bad base64", [("cursor", "@@@")]),
        R("cursor on unknown dag", [("cursor", "")], "/api/v2/dags/nodag/dagRuns"),
    ]
    return cases


def dagrun_write_cases() -> list[Case]:
    """Trigger bodies, PATCH and DELETE of a run (on runs only these cases use)."""
    one = RUNS + "/p_run_1"
    return [
        Case(
            "dagrun create partition_key",
            "POST",
            RUNS,
            json={"dag_run_id": "p_pk", "logical_date": None, "partition_key": "pk1"},
        ),
        Case(
            "dagrun create partition_key empty",
            "POST",
            RUNS,
            json={"dag_run_id": "p_pk2", "logical_date": None, "partition_key": ""},
        ),
        Case(
            "dagrun create partition_key unknown dag",
            "POST",
            "/api/v2/dags/nodag/dagRuns",
            json={"dag_run_id": "p_pk3", "logical_date": None, "partition_key": "pk1"},
        ),
        Case(
            "dagrun create partition_key null",
            "POST",
            RUNS,
            json={
                "dag_run_id": "p_run_1",
                "logical_date": "2025-03-01T00:00:00Z",
                "partition_key": None,
            },
        ),
        Case(
            "dagrun create conf null",
            "POST",
            RUNS,
            json={"dag_run_id": "p_run_2", "logical_date": "2025-03-02T00:00:00Z", "conf": None},
        ),
        Case(
            "dagrun create conf unicode",
            "POST",
            RUNS,
            json={
                "dag_run_id": "p_run_3",
                "logical_date": "2025-03-03T00:00:00Z",
                "conf": {"é": "ü", "n": [1, 2.5, None]},
            },
        ),
        Case(
            "dagruns conf_contains escaped unicode",
            "GET",
            ALL_RUNS,
            params=[("conf_contains", "\\u00e9")],
        ),
        Case("dagrun patch note", "PATCH", one, json={"note": "first note"}),
        Case("dagrun patch state success", "PATCH", one, json={"state": "success"}),
        Case("dagrun get after success", "GET", one),
        Case("dagruns state success after patch", "GET", ALL_RUNS, params=[("state", "success")]),
        Case(
            "dagruns end_date filter after patch",
            "GET",
            ALL_RUNS,
            params=[("end_date_gte", "2020-01-01T00:00:00Z"), ("state", "success")],
        ),
        Case("dagruns order end_date after patch", "GET", RUNS, params=[("order_by", "-end_date")]),
        Case("dagrun patch state failed", "PATCH", one, json={"state": "failed"}),
        Case("dagrun patch state queued", "PATCH", one, json={"state": "queued"}),
        Case("dagrun patch state running", "PATCH", one, json={"state": "running"}),
        Case("dagrun patch state bogus", "PATCH", one, json={"state": "bogus"}),
        Case("dagrun patch state null", "PATCH", one, json={"state": None}),
        Case("dagrun patch empty note", "PATCH", one, json={"note": ""}),
        Case("dagrun patch note null", "PATCH", one, json={"note": None}),
        Case("dagrun patch empty body", "PATCH", one, json={}),
        Case("dagrun patch extra field", "PATCH", one, json={"note": "x", "zzz": 1}),
        Case("dagrun patch note too long", "PATCH", one, json={"note": "n" * 1001}),
        Case("dagrun patch note 1000", "PATCH", one, json={"note": "n" * 1000}),
        Case(
            "dagrun patch update_mask note",
            "PATCH",
            one,
            params=[("update_mask", "note")],
            json={"note": "masked", "state": "failed"},
        ),
        Case(
            "dagrun patch update_mask state",
            "PATCH",
            one,
            params=[("update_mask", "state")],
            json={"note": "ignored", "state": "success"},
        ),
        Case(
            "dagrun patch update_mask other",
            "PATCH",
            one,
            params=[("update_mask", "conf")],
            json={"note": "ignored"},
        ),
        Case("dagrun patch missing run", "PATCH", RUNS + "/norun", json={"note": "x"}),
        Case(
            "dagrun patch unknown dag",
            "PATCH",
            "/api/v2/dags/nodag/dagRuns/run_1",
            json={"note": "x"},
        ),
        Case("dagrun patch viewer", "PATCH", one, auth="viewer", json={"note": "x"}),
        Case("dagrun patch user", "PATCH", one, auth="user", json={"note": "by user"}),
        Case("dagrun patch no auth", "PATCH", one, auth=None, json={"note": "x"}),
        Case("dagrun patch not json", "PATCH", one, content="note", content_type="text/plain"),
        Case("dagrun get after patches", "GET", one),
        Case(
            "dagrun xcom on run to delete",
            "POST",
            X(run="p_run_2"),
            json={"key": "p_del", "value": [1]},
        ),
        Case("dagrun delete viewer", "DELETE", RUNS + "/p_run_2", auth="viewer"),
        Case(
            "dagrun delete",
            "DELETE",
            RUNS + "/p_run_2",
            headers={"Accept-Encoding": "gzip"},
            compare_headers=("content-encoding", "vary"),
        ),
        Case("dagrun get deleted", "GET", RUNS + "/p_run_2"),
        Case("dagrun deleted run's xcom", "GET", X("p_del", run="p_run_2")),
        Case("dagrun deleted run's xcom list", "GET", X(dag="~", run="p_run_2", task="~")),
        Case("dagrun delete again", "DELETE", RUNS + "/p_run_2"),
        Case("dagrun delete unknown dag", "DELETE", "/api/v2/dags/nodag/dagRuns/run_1"),
        Case("dagrun delete no auth", "DELETE", RUNS + "/p_run_3", auth=None),
        Case(
            "dagrun recreate deleted id",
            "POST",
            RUNS,
            json={"dag_run_id": "p_run_2", "logical_date": "2025-03-02T00:00:00Z"},
        ),
        Case("dagrun recreated has no xcom", "GET", X("p_del", run="p_run_2")),
        Case("dagruns after writes", "GET", ALL_RUNS, params=[("order_by", "-id"), ("limit", "5")]),
    ]


def envelope_cases() -> list[Case]:
    """The HTTP envelope: compression, login content types."""
    gz = {"Accept-Encoding": "gzip"}
    enc = ("content-encoding", "vary")
    bad_dates = [
        (f"{n}_{op}", "x")
        for n in ("run_after", "logical_date")
        for op in ("gte", "gt", "lte", "lt")
    ]
    return [
        Case("gzip large list", "GET", ALL_RUNS, headers=gz, compare_headers=enc),
        Case(
            "gzip small answer",
            "GET",
            "/api/v2/version",
            auth=None,
            headers=gz,
            compare_headers=enc,
        ),
        Case("gzip small error", "GET", RUNS + "/norun", headers=gz, compare_headers=enc),
        Case(
            "gzip large error", "GET", ALL_RUNS, params=bad_dates, headers=gz, compare_headers=enc
        ),
        Case(
            "gzip large xcom list",
            "GET",
            X(dag="~", run="~", task="~"),
            params=[("limit", "100")],
            headers=gz,
            compare_headers=enc,
        ),
        Case(
            "no gzip when not asked",
            "GET",
            ALL_RUNS,
            headers={"Accept-Encoding": "identity"},
            compare_headers=enc,
        ),
        Case(
            "login json without content type",
            "POST",
            "/auth/token",
            auth=None,
            content='{"username": "admin", "password": "{password:admin}"}',
        ),
        Case(
            "login json with charset",
            "POST",
            "/auth/token",
            auth=None,
            content='{"username": "admin", "password": "{password:admin}"}',
            content_type="application/json; charset=utf-8",
        ),
    ]


#: Divergences no request of the corpus can show (they need state written outside the
#: API, concurrency, or a backend the job does not run), as (subject, reason). The job
#: writes them into docs/compatibility.md and fails when the document lacks one.
OTHER_DIVERGENCES: list[tuple[str, str]] = [
    (
        "Extensions: `/xcomkit/v1`",
        "xcomkit answers three endpoints Airflow does not have, outside its `/api/v2` "
        "namespace: a probe, a streamed NDJSON export and a batch import of XComs "
        '(docs/server.md, "Bulk export and import"). Airflow answers 404 there. '
        "`xcomkit xcom export` / `import` use them only when the probe says the server is "
        "xcomkit, and otherwise (or with `--per-xcom`) talk Airflow's API, one XCom per "
        "request, with the same results.",
    ),
    (
        "Serde envelopes written outside the API",
        "The API refuses values holding Airflow's reserved serialization keys, as Airflow "
        "does. A value stored by other means (plain SQL, `xcomkit seed`) that holds a "
        "`__classname__`/`__data__` envelope is answered as stored, also with "
        "`deserialize=true`: xcomkit runs no Airflow serde and imports no user classes, "
        "where Airflow would rebuild (or fail to rebuild) the object.",
    ),
    (
        "Concurrent writes",
        "Airflow on SQLite answers 500 (`database is locked`) when writers collide; "
        "xcomkit queues writers (one write lane on SQLite, which takes the lock at BEGIN): "
        "two creates of one key give one 201 and one 409, and work past the request "
        "deadline or a full lane answers 503 with `Retry-After`, never another 5xx.",
    ),
    (
        "Values nested deeper than 254 levels",
        "Airflow answers 500 when it cannot serve such a value; xcomkit refuses values, "
        "PATCH bodies and conf nested deeper than 254 levels (the deepest Airflow 3.3.2 "
        "serves: 254 empty arrays; with a number inside, Airflow's GET of 254 levels "
        "already answers 500) with 422, and serves every value it holds, in every mode. "
        "One limit for "
        "every body: Airflow also accepts a `conf` whose values are 255 levels deep (256 "
        "with the conf object itself); xcomkit answers 422 there. Under `deserialize=true` "
        "a string holding JSON deeper than the limit is returned as the string (Airflow: "
        "500).",
    ),
    (
        "Request size and time limits",
        "Airflow reads bodies of any size and takes any time. xcomkit answers 413 to a body "
        "over `--max-body-bytes` (16 MiB; 64 KiB for `/auth/token`), 408 to a body that "
        "takes over 30 s to arrive (5 s for a login), 431 to a request head over 64 KiB, "
        "and closes connections that send no complete head within `--header-timeout` "
        "(10 s) or stop reading an answer for as long (docs/security.md).",
    ),
    (
        "Request deadline and busy lanes",
        "A request whose database work or password check cannot finish within "
        "`--request-timeout` (10 s), or that finds too many requests waiting for the same "
        "kind of work, answers 503 with `Retry-After: 1` and changes nothing; Airflow runs "
        "it to the end however long it takes.",
    ),
    (
        "Login rate limit",
        "After 10 failed logins for one user name, or 50 from one client address, within "
        "60 s, xcomkit answers `/auth/token` and `/auth/token/cli` with 429 and "
        "`Retry-After` until the window ends, before checking the password; Airflow has no "
        "limit. The compatibility job runs xcomkit with the limit off, since its cases log "
        "in with wrong passwords many times.",
    ),
    (
        "Lone UTF-16 surrogates in text",
        "Airflow answers 500 (the database cannot store them); xcomkit answers 422 for such "
        "text anywhere in a request body.",
    ),
    (
        "NUL characters",
        "xcomkit answers 422 for a NUL in query text (`xcom_key`, any `*_pattern`, "
        "`order_by`, cursors) and in body fields stored as columns (`key`, `note`, "
        "`dag_run_id`...), on every backend; Airflow on SQLite stores a NUL key (201), "
        "matches a NUL pattern (200) and refuses a NUL `order_by` (400); on PostgreSQL it "
        "answers 500. NULs inside JSON values are kept, as on Airflow.",
    ),
    (
        "Partitioned DAGs",
        "xcomkit has no partitioned DAGs (the manifest cannot declare a timetable): every "
        "DAG answers a `partition_key` in a trigger body and `partition_date_*` list "
        "filters with Airflow's 400 for a DAG that is not partitioned, and "
        "`partition_key_*` filters match no run.",
    ),
    (
        "DAG versions, bundles, assets",
        "xcomkit keeps no DAG versions, bundles or asset events: `dag_versions` is `[]` "
        "(normalized away above), `bundle_version` null; the `dag_version` filter counts "
        "every run as made by version 1 of its DAG (as a DAG file that never changed), and "
        "a non-empty `bundle_version` or `consuming_asset_pattern` matches no run.",
    ),
    (
        "`conf_contains` on PostgreSQL",
        "xcomkit stores a run's conf as the JSON text Airflow stores on SQLite "
        '(`json.dumps`: `", "` and `": "` separators, non-ASCII escaped) on every '
        "backend, and matches that text; Airflow on PostgreSQL matches JSONB's own text "
        "form (keys reordered, non-ASCII kept).",
    ),
    (
        "Cursors of pages ordered by duration",
        "A cursor holds the sort key of a page's last run. For `order_by=duration` xcomkit "
        "puts in the duration as the database computes it; Airflow puts in Python's "
        "`end_date - start_date`, which differs from SQLite's julianday arithmetic in the "
        "last digits, so its next page can repeat or skip a run. The cursor strings of such "
        "pages differ (no other order's do).",
    ),
    (
        "Order of errors in one DAG-run list request",
        "When a list request has both malformed parameters (422 list) and an unknown "
        "`state` or `run_type`, Airflow answers the `state`/`run_type` detail, xcomkit the "
        "list of malformed parameters. Each alone is answered alike.",
    ),
]


def _run_ids(*ids: str) -> Callable[[Any], bool]:
    return where(
        f"the DAG runs {', '.join(ids)}, in this order",
        lambda body: [r["dag_run_id"] for r in body["dag_runs"]] == list(ids),
    )


_NULL_ORDER = (
    "Airflow sorts by the plain column, so a NULL goes where the database puts it: first "
    "in ascending order on SQLite, last on PostgreSQL (the reverse when descending; cursor "
    "pages follow the same order). xcomkit sorts as the database it runs on does, as "
    "Airflow on PostgreSQL does"
)

#: Cases that xcomkit on PostgreSQL answers as Airflow 3.3.2 on PostgreSQL does, which
#: differs from the reference (Airflow on SQLite) because the two databases differ:
#: case name -> (xcomkit's answer on PostgreSQL, why). Airflow's queries leave these
#: to the database (plain ORDER BY, LIKE, ILIKE without ESCAPE), and xcomkit issues the
#: same ones, so its answers depend on its database exactly as Airflow's do.
ON_POSTGRESQL: dict[str, tuple[tuple[int, Any], str]] = {
    "list key pattern backslash": (
        (
            200,
            where(
                "the entry l_alpha only",
                lambda b: (
                    [e["key"] for e in b["xcom_entries"]] == ["l_alpha"] and b["total_entries"] == 1
                ),
            ),
        ),
        "Airflow's `*_pattern` filters are ILIKE without an ESCAPE clause: on SQLite `\\` "
        "is an ordinary character, on PostgreSQL it escapes the next one, so `l\\_alpha` "
        "matches the key `l_alpha`. xcomkit matches as its database does, as Airflow on "
        "PostgreSQL does",
    ),
    "dagruns conf_contains case": (
        (200, _run_ids()),
        "`conf_contains` is LIKE on the conf text: ASCII case-insensitive on SQLite, "
        "case-sensitive on PostgreSQL, in Airflow and in xcomkit",
    ),
    "dagruns order logical_date": (
        (200, _run_ids("run_1", "daily_1", "run_2", "c_run_a", "c_run_c", "c_run_b")),
        _NULL_ORDER,
    ),
    "dagruns order -logical_date": (
        (200, _run_ids("c_run_b", "c_run_c", "c_run_a", "run_2", "daily_1", "run_1")),
        _NULL_ORDER,
    ),
    "dagruns cursor desc first": ((200, _run_ids("c_run_b", "c_run_c", "c_run_a")), _NULL_ORDER),
    "dagruns cursor desc next": ((200, _run_ids("run_2", "daily_1", "run_1")), _NULL_ORDER),
    "dagruns cursor desc back": ((200, _run_ids("c_run_b", "c_run_c", "c_run_a")), _NULL_ORDER),
    "dagruns order end_date after patch": (
        (
            200,
            _run_ids(
                "p_run_3", "p_run_2", "c_run_c", "c_run_b", "c_run_a", "run_2", "run_1", "p_run_1"
            ),
        ),
        _NULL_ORDER,
    ),
}
