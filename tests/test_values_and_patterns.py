"""XCom value rules and list-filter parsing, as pure functions."""

from __future__ import annotations

import math

import orjson
import pytest

from xcomkit import values
from xcomkit.server.encoding import dumps
from xcomkit.server.patterns import like_patterns, prefix_bounds, prefix_upper_bound


@pytest.mark.parametrize(
    ("value", "hit"),
    [
        ({"a": 1}, None),
        ({"__var": 1}, ("value", ["__var"])),
        ([{"ok": 1}, {"x": {"__type": 1, "__source": 2}}], ("value[1].x", ["__source", "__type"])),
        ('{"a": {"__id__": 1}}', ("value.a", ["__id__"])),
        ("__classname__", None),
        ({"__classname": 1}, None),
        ("[" * 5000, None),  # unparsable, not an error
    ],
)
def test_find_reserved_keys(value, hit) -> None:
    assert values.find_reserved_keys(value) == hit


def test_find_reserved_keys_walks_any_depth() -> None:
    deep: object = {"__cache__": 1}
    for _ in range(5000):
        deep = [deep]
    assert values.find_reserved_keys(deep) == ("value" + "[0]" * 5000, ["__cache__"])


def test_find_lone_surrogate() -> None:
    assert values.find_lone_surrogate({"a": ["ok", "é", "😀"]}) is None
    assert values.find_lone_surrogate({"a": ["x\ud800"]}) == "x\ud800"
    assert values.find_lone_surrogate({"\udc00": 1}) == "\udc00"


@pytest.mark.parametrize(
    ("value", "text"),
    [({"b": [1, 2.5], "a": "é"}, '{"b":[1,2.5],"a":"é"}'), (2**70, str(2**70)), (None, "null")],
)
def test_encode_is_compact_and_exact(value, text) -> None:
    assert values.encode(value) == text
    assert values.decode(text) == value


def test_as_json_splices_plain_text_and_decodes_non_finite() -> None:
    assert isinstance(values.as_json('{"a":1}'), orjson.Fragment)
    assert values.as_json(None) is None
    decoded = values.as_json(values.encode([float("nan"), "x"]))
    assert math.isnan(decoded[0]) and decoded[1] == "x"
    assert dumps({"v": decoded}) == b'{"v":[null,"x"]}'


def test_deserialize_and_stringify() -> None:
    assert values.deserialize("123") == 123
    assert values.deserialize("not json") == "not json"
    assert values.deserialize({"a": "1"}) == {"a": "1"}
    assert values.stringify({"a": [1, None, True]}) == "{'a': [1, None, True]}"
    assert values.stringify(None) is None


def test_dumps_survives_what_orjson_refuses() -> None:
    deep: object = 1
    for _ in range(600):
        deep = [deep]
    assert dumps(deep) == b"[" * 600 + b"1" + b"]" * 600
    assert dumps({"s": "x\ud800"}) == b'{"s":"x\\ud800"}'
    assert dumps({"n": 2**70, "f": float("inf")}) == f'{{"n":{2**70},"f":null}}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("~", ["%%%"]),
        ("abc", ["%abc%"]),
        ("a | b", ["%a%", "%b%"]),
        ("|", ["%|%"]),
    ],
)
def test_like_patterns(value, expected) -> None:
    assert like_patterns(value, "p") == expected


@pytest.mark.parametrize(
    ("term", "upper"),
    [("abc", "abd"), ("test_", "tesu"), ("az", "b"), ("z", None), ("9", None), ("%", None)],
)
def test_prefix_upper_bound(term, upper) -> None:
    assert prefix_upper_bound(term) == upper


def test_prefix_bounds() -> None:
    assert prefix_bounds(None, "p") is None
    assert prefix_bounds("~", "p") == [("", None)]
    assert prefix_bounds("v_|x", "p") == [("v", "w"), ("x", "y")]
