"""``ResponseGetXcomEntry``: the answer of ``GET .../xcomEntries/{xcom_key}``."""

from __future__ import annotations

from typing import Any, ClassVar

from typing_extensions import Self

from xcomkit.client.models._anyof import AnyOfModel
from xcomkit.client.models.x_com_response_native import XComResponseNative
from xcomkit.client.models.x_com_response_string import XComResponseString

RESPONSEGETXCOMENTRY_ANY_OF_SCHEMAS = ["XComResponseNative", "XComResponseString"]


class ResponseGetXcomEntry(AnyOfModel):
    """An :class:`XComResponseNative` or an :class:`XComResponseString` in
    ``actual_instance``.

    The JSON of the two is alike (a string value fits both), so the payload alone cannot
    tell them apart: ``XComApi.get_xcom_entry`` picks by its ``stringify`` argument
    (the official client always parses as native). :meth:`from_dict` and
    :meth:`from_json`, given only the payload, parse as native, like the official client;
    use :meth:`from_dict_stringified` for a ``stringify=true`` payload.
    """

    any_of_schemas: ClassVar[set[str]] = {"XComResponseNative", "XComResponseString"}

    def __getattr__(self, name: str) -> Any:
        # Not a field of the wrapper: answer from the wrapped XCom (``.value``, ``.key`` ...).
        try:
            return super().__getattr__(name)  # type: ignore[misc]
        except AttributeError:
            inner = self.__dict__.get("actual_instance")
            if inner is None or name.startswith("_"):
                raise
            return getattr(inner, name)

    @classmethod
    def _check(cls, value: Any) -> Any:
        if isinstance(value, (XComResponseNative, XComResponseString)):
            return value
        if isinstance(value, dict):
            return XComResponseNative.from_dict(value)
        raise cls._no_match(value)

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Parse a get-entry payload as :class:`XComResponseNative` (the official rule)."""
        return cls(actual_instance=XComResponseNative.from_dict(obj))

    @classmethod
    def from_dict_stringified(cls, obj: Any) -> Self:
        """Parse a ``stringify=true`` payload as :class:`XComResponseString`."""
        return cls(actual_instance=XComResponseString.from_dict(obj))

    @classmethod
    def _from_json_bytes(cls, raw: bytes) -> Self:
        """:meth:`from_dict` of a response body (see ``ApiModel._from_json_bytes``)."""
        return cls(actual_instance=XComResponseNative._from_json_bytes(raw))

    @classmethod
    def _from_json_bytes_stringified(cls, raw: bytes) -> Self:
        """:meth:`from_dict_stringified` of a response body."""
        return cls(actual_instance=XComResponseString._from_json_bytes(raw))
