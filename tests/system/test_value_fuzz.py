"""Generated values go create → GET in every mode → list → PATCH: never a 5xx, always JSON.

Values are JSON of every kind (integers of any size, floats, unicode, nesting up to and past
the depth limit) and strings that hold JSON, since ``deserialize`` re-parses those.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xcomkit.values import MAX_JSON_DEPTH

JSON = {"Content-Type": "application/json"}
MODES = ({}, {"deserialize": "true"}, {"stringify": "true"}, {"deserialize": "1", "stringify": "1"})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)


@st.composite
def deep_values(draw: st.DrawFn) -> object:
    value: object = draw(scalars)
    for _ in range(draw(st.integers(min_value=MAX_JSON_DEPTH - 3, max_value=MAX_JSON_DEPTH + 3))):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


candidates = (
    json_values
    | json_values.map(json.dumps)  # a string holding JSON
    | deep_values()
    | deep_values().map(json.dumps)
)
_keys = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=candidates)
def test_any_value_round_trips_without_5xx(api, value) -> None:
    key = f"fuzz_{next(_keys)}"
    body = json.dumps({"key": key, "value": value})
    created = api.client.post(api.xcom_url(), content=body, headers={**api.headers(), **JSON})
    assert created.status_code in (201, 422), created.text[:300]
    json.loads(created.text)
    if created.status_code == 422:
        # The only reasons to refuse such values: depth, or Airflow's reserved keys.
        assert "nested more than" in created.text or "reserved" in created.text
        return
    for params in MODES:
        r = api.client.get(api.xcom_url(key=key), params=params, headers=api.headers())
        assert r.status_code == 200, (params, r.text[:300])
        got = json.loads(r.text)["value"]
        if not params:
            assert got == value
    listed = api.client.get(api.xcom_url(), params={"xcom_key": key}, headers=api.headers())
    assert listed.status_code == 200
    assert json.loads(listed.text)["total_entries"] == 1
    patched = api.client.patch(
        api.xcom_url(key=key),
        content=json.dumps({"value": value}),
        headers={**api.headers(), **JSON},
    )
    assert patched.status_code == 200, patched.text[:300]
