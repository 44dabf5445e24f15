"""The XCom routes' hooks for large values: size limit, object storage, cleanup.

What a write does (docs/storage.md):

1. :func:`prepare` encodes the value in the ``objects`` lane, refuses one over
   ``max_value_bytes`` (413), and puts one over ``offload_threshold`` in a new object;
2. the route writes the row (:mod:`xcomkit.service`) with the object's name;
3. if the row was surely not written (404, 409), :func:`discard` removes the new object;
   on any other failure it stays, unreferenced, for ``xcomkit storage gc``;
4. after an update or delete has committed, :func:`release` removes the objects of the
   values it replaced.

A row therefore never points at an object that was not written. :func:`resolve` reads an
offloaded value for a GET in the ``objects`` lane under the request's deadline; if the
object went away meanwhile (an update committed between the row read and the object
read), it reads the row again, once. Storage failures answer 503 with ``Retry-After``.
With neither a threshold nor a limit configured, none of this costs anything: the
hooks return at once and the service encodes values itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row

from xcomkit import values
from xcomkit.errors import ValueTooLarge
from xcomkit.server.execution import Unavailable
from xcomkit.settings import Settings
from xcomkit.store.objects import (
    ObjectMissing,
    ObjectStore,
    ObjectStoreError,
    StoredValue,
    value_bytes,
)
from xcomkit.store.xcoms import ENTRY_FIELDS, Entry

if TYPE_CHECKING:
    from xcomkit.server.deps import ServerContext

log = logging.getLogger("xcomkit.objects")

#: Bytes a create or update body may hold beside its value (the key, up to 512
#: characters each escaped to at most six, the map_index and the field names).
VALUE_BODY_SLACK = 4096
#: Body bytes one byte of stored value may take: a client may escape any character
#: (``\u0041`` for ``A``; Python's default encoder writes ``é``, two bytes stored, as six).
VALUE_BODY_EXPANSION = 6


def value_body_limit(max_value_bytes: int) -> int:
    """The longest create or update body that may hold a value of ``max_value_bytes``
    bytes of stored JSON, however the client escaped it: the request guard refuses a
    longer body before reading it; a shorter one is measured once parsed."""
    return max_value_bytes * VALUE_BODY_EXPANSION + VALUE_BODY_SLACK


class ObjectStorageUnavailable(Unavailable):
    """Object storage failed a read or write: 503 with ``Retry-After``."""


def too_large_detail(size: int | None, limit: int) -> str:
    """The 413 ``detail`` for a value over ``limit`` bytes (``size``: its size, if known)."""
    if size is None:
        return (
            f"XCom value too large: the limit is {limit} bytes of JSON "
            f"(a request body of at most {value_body_limit(limit)} bytes)."
        )
    return f"XCom value too large: its JSON is {size} bytes; the limit is {limit} bytes."


class ValueStorage:
    """Where a server keeps values, and how large they may be.

    Args:
        store: the object store (None: none configured; values offloaded earlier then
            cannot be read, and answer 503).
        offload_threshold: values whose stored JSON is longer than this many bytes go
            to ``store`` (None: none do).
        max_value_bytes: longest stored JSON accepted, in bytes (None: no limit).
    """

    def __init__(
        self,
        store: ObjectStore | None = None,
        *,
        offload_threshold: int | None = None,
        max_value_bytes: int | None = None,
    ) -> None:
        if offload_threshold is not None and store is None:
            raise ValueError("an offload threshold needs an object store")
        self.store = store
        self.offload_threshold = offload_threshold
        self.max_value_bytes = max_value_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> ValueStorage:
        """The storage ``settings`` describe.

        Raises:
            ObjectStoreError: the object store cannot be used (see :class:`ObjectStore`).
        """
        store = None
        if settings.object_store:
            store = ObjectStore(
                settings.object_store,
                compression=settings.offload_compression,
                options=settings.object_store_options,
            )
        return cls(
            store,
            offload_threshold=settings.offload_threshold,
            max_value_bytes=settings.max_value_bytes,
        )

    @property
    def checks_writes(self) -> bool:
        """True when a write's value must be measured (a threshold or a limit is set)."""
        return self.offload_threshold is not None or self.max_value_bytes is not None

    def prepare(self, value: Any) -> StoredValue:
        """Encode a checked value; put it in a new object when it is over the threshold.

        Blocking (encoding and object I/O): run in the ``objects`` lane.

        Raises:
            ValueTooLarge: its JSON is longer than ``max_value_bytes``.
            ObjectStoreError: the object could not be written.
        """
        text = values.encode(value)
        # UTF-8 takes at most 4 bytes a character: most values need no measuring.
        limit = min(
            x for x in (self.offload_threshold, self.max_value_bytes, 1 << 62) if x is not None
        )
        if len(text) * 4 <= limit:
            return StoredValue(text)
        size = len(value_bytes(text))
        if self.max_value_bytes is not None and size > self.max_value_bytes:
            raise ValueTooLarge(too_large_detail(size, self.max_value_bytes))
        if self.offload_threshold is not None and size > self.offload_threshold:
            assert self.store is not None
            return StoredValue(text, self.store.put(text))
        return StoredValue(text)

    def load(self, ref: str) -> str:
        """The stored JSON text of object ``ref`` (blocking: the ``objects`` lane).

        Raises:
            ObjectMissing: no such object.
            ObjectStoreError: no store is configured, or it failed the read.
            DeadlinePassed: the request's deadline passed during the read.
        """
        if self.store is None:
            raise ObjectStoreError(
                "this XCom's value is in object storage, but the server has no object "
                "store configured (XCOMKIT_OBJECT_STORE)"
            )
        return self.store.get(ref)

    def remove(self, refs: Iterable[str]) -> None:
        """Remove objects whose values were replaced or deleted, or whose row was never
        written; a failure is logged (the object stays for ``xcomkit storage gc``)."""
        if self.store is None:
            return
        for ref in refs:
            try:
                self.store.remove(ref)
            except ObjectStoreError as exc:
                log.warning("object %s left for gc: %s", ref, exc.detail)


def unavailable(exc: ObjectStoreError) -> ObjectStorageUnavailable:
    """The 503 error for a failed object-storage call (logged at ERROR), to raise."""
    log.error("object storage: %s", exc.detail)
    return ObjectStorageUnavailable(
        f"The value's object storage failed: {exc.detail}. Retry the request shortly."
    )


async def prepare(ctx: ServerContext, value: Any) -> StoredValue | None:
    """``value`` encoded and, if large, in object storage; None when the server
    measures no values (the service then encodes it itself).

    Raises:
        ValueTooLarge: over ``max_value_bytes`` (413).
        ObjectStorageUnavailable: the object could not be written (503).
    """
    storage = ctx.storage
    if not storage.checks_writes:
        return None
    try:
        return await ctx.work.objects(storage.prepare, value)
    except ObjectStoreError as exc:
        raise unavailable(exc) from exc


async def discard(ctx: ServerContext, stored: StoredValue | None) -> None:
    """Remove the object of a write whose row was surely not written (404, 409)."""
    if stored is not None and stored.ref is not None:
        await release(ctx, [stored.ref])


def freeing(ctx: ServerContext) -> list[str] | None:
    """Where a write collects the objects it frees (see :func:`release`), or None when
    the server has no object store (a write then reads no object names: one query less)."""
    return [] if ctx.storage.store is not None else None


async def release(ctx: ServerContext, refs: list[str] | None) -> None:
    """Remove objects no row points at any more (after the change committed). Never
    raises: an object that stays is garbage for ``xcomkit storage gc``."""
    if not refs:
        return
    try:
        await ctx.work.objects(ctx.storage.remove, refs)
    except Unavailable as exc:
        log.warning("objects %s left for gc: %s", refs, exc.detail)


async def resolve(
    ctx: ServerContext, row: Entry | Row[Any], reread: Callable[[], Awaitable[Entry | Row[Any]]]
) -> Entry | Row[Any]:
    """``row`` with its value read from object storage when it is kept there.

    Raises:
        ObjectStorageUnavailable: the store failed, or the object is missing (503).
        DeadlineExceeded: the request's deadline passed (503).
    """
    for attempt in range(2):
        ref = getattr(row, "value_ref", None)
        if ref is None:
            return row
        try:
            text = await ctx.work.objects(ctx.storage.load, ref)
        except ObjectMissing as exc:
            if attempt == 0:  # replaced meanwhile? The row now names another object.
                row = await reread()
                continue
            raise unavailable(exc) from exc
        except ObjectStoreError as exc:
            raise unavailable(exc) from exc
        return Entry._make((*row[: len(ENTRY_FIELDS)], text, ref))
    raise AssertionError("unreachable")
