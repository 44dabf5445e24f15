"""Large XCom values kept in object storage instead of their database row.

An XCom whose stored JSON text is longer than the offload threshold is written to an
object under an fsspec URL (``file:///var/lib/xcomkit/values``, ``s3://bucket/prefix``,
``memory://values``), optionally compressed, and its row keeps the object's *name* in the
``xcom.value_ref`` column (``value`` is then NULL). A value a user stores is never taken
for a reference: the reference lives in a column of its own.

Object names are ``<milliseconds since the epoch, 13 digits>-<24 hex digits>`` and a
suffix that says how the bytes are stored: ``.json`` (plain UTF-8 JSON text),
``.json.gz`` (gzip) or ``.json.zst`` (zstd). A name is unique per write and never
reused, so a write puts its object first and then its row: a failure between the two
leaves an object no row points at (removed by :func:`collect_garbage`), never a row
that points at a missing object. The time in the name lets the collector keep objects
too young to have their row committed yet, whatever the storage reports as their
modification time. Names stay relative to the configured URL, so a store can be moved
(copied to another bucket or directory) without touching a row.

Apache Airflow's object-storage XCom backend answers the REST API with the object's path
instead of the value; here every endpoint answers with the value itself.
"""

from __future__ import annotations

import gzip
import logging
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select

from xcomkit.store.db import deadline_passed
from xcomkit.store.schema import xcom

log = logging.getLogger("xcomkit.objects")

Compression = Literal["none", "gzip", "zstd"]
COMPRESSIONS: tuple[str, ...] = ("none", "gzip", "zstd")
_SUFFIXES: dict[str, str] = {"none": ".json", "gzip": ".json.gz", "zstd": ".json.zst"}
_NAME = re.compile(r"^(?P<ms>\d{13})-[0-9a-f]{24}\.json(?P<suffix>\.gz|\.zst)?$")
#: Bytes read between two checks of the request's deadline.
READ_CHUNK = 1024 * 1024
#: zstd level 3 (the library's default) and gzip level 6 (zlib's default): a fraction of
#: the size of JSON text at a small fraction of the time of the maximum levels.
ZSTD_LEVEL = 3
GZIP_LEVEL = 6


class ObjectStoreError(Exception):
    """Object storage cannot be used as configured or did not answer (``detail``: why)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class ObjectMissing(ObjectStoreError):
    """No object under a reference that a row held (removed since the row was read)."""


class DeadlinePassed(Exception):
    """The request's deadline (:func:`xcomkit.store.db.deadline`) passed during a read."""


def value_bytes(value_json: str) -> bytes:
    """The UTF-8 bytes of stored JSON text (lone surrogates, which Airflow accepts in
    strings, are kept as their three-byte forms rather than refused)."""
    return value_json.encode("utf-8", "surrogatepass")


def is_object_name(ref: str) -> bool:
    """True when ``ref`` has the form of an object name this module makes."""
    return _NAME.match(ref) is not None


def created_at(ref: str) -> float:
    """Seconds since the epoch at which the object ``ref`` was named (its write began).

    Raises:
        ValueError: ``ref`` is not an object name this module makes.
    """
    match = _NAME.match(ref)
    if match is None:
        raise ValueError(f"not an XCom object name: {ref!r}")
    return int(match["ms"]) / 1000


@dataclass(frozen=True)
class StoredValue:
    """A value ready for its row: ``json`` (the stored JSON text, what responses carry)
    and ``ref`` (the object it was written to, or None when it stays in the row)."""

    json: str
    ref: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """One object found under the store's URL: its name, size in bytes and creation time
    (seconds since the epoch, from the name; None for a name this module did not make)."""

    name: str
    size: int
    created: float | None


class ObjectStore:
    """Objects under one fsspec URL.

    Args:
        url: where objects go: ``file:///abs/dir``, ``s3://bucket/prefix``,
            ``memory://name`` or any URL fsspec knows (its package must be installed).
        compression: how new objects are written (objects already written keep theirs,
            read from their name's suffix).
        options: keyword arguments for the file system (fsspec's ``storage_options``,
            e.g. ``{"endpoint_url": "http://127.0.0.1:9000"}`` for s3fs).

    Raises:
        ObjectStoreError: fsspec (or the URL's file system package) is not installed,
            the URL is not one fsspec knows, or a local directory cannot be made.
    """

    def __init__(
        self, url: str, *, compression: str = "none", options: dict[str, Any] | None = None
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ObjectStoreError(
                f"unknown compression {compression!r}: use one of {', '.join(COMPRESSIONS)}"
            )
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise ObjectStoreError(
                "object storage needs fsspec: pip install 'xcomkit[objects]' "
                "(or 'xcomkit[s3]' for s3:// URLs)"
            ) from None
        if compression == "zstd":
            _zstd()  # fail at start, not at the first large write
        try:
            fs, root = url_to_fs(url, **(options or {}))
        except (ImportError, ValueError) as exc:
            raise ObjectStoreError(f"cannot use object store {url!r}: {exc}") from None
        self.url = url
        self.compression = compression
        self.fs = fs
        self.root = str(root).rstrip("/")
        if "file" in _protocols(fs):
            try:
                fs.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise ObjectStoreError(f"cannot create {self.root}: {exc.strerror}") from None

    def _path(self, ref: str) -> str:
        if not is_object_name(ref):  # a reference never leaves the store's root
            raise ObjectStoreError(f"not an XCom object name: {ref!r}")
        return f"{self.root}/{ref}"

    def put(self, value_json: str) -> str:
        """Write stored JSON text to a new object; return its name (for ``value_ref``).

        Raises:
            ObjectStoreError: the storage refused or failed the write.
        """
        data = value_bytes(value_json)
        if self.compression == "zstd":
            data = _zstd().ZstdCompressor(level=ZSTD_LEVEL).compress(data)
        elif self.compression == "gzip":
            data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
        name = (
            f"{int(time.time() * 1000):013d}-{secrets.token_hex(12)}{_SUFFIXES[self.compression]}"
        )
        try:
            self.fs.pipe_file(self._path(name), data)
        except OSError as exc:
            raise ObjectStoreError(f"cannot write to object store: {exc}") from exc
        return name

    def get(self, ref: str) -> str:
        """The stored JSON text kept in object ``ref``.

        Read in chunks of :data:`READ_CHUNK` bytes; between two, a passed deadline of
        this thread (:func:`xcomkit.store.db.deadline`) stops the read.

        Raises:
            ObjectMissing: there is no such object.
            ObjectStoreError: the storage failed the read.
            DeadlinePassed: the deadline passed before the whole object was read.
        """
        path = self._path(ref)
        chunks = []
        try:
            with self.fs.open(path, "rb") as f:
                while True:
                    if deadline_passed():
                        raise DeadlinePassed(ref)
                    chunk = f.read(READ_CHUNK)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except FileNotFoundError:
            raise ObjectMissing(f"the object {ref} of a stored value is missing") from None
        except OSError as exc:
            raise ObjectStoreError(f"cannot read from object store: {exc}") from exc
        data = b"".join(chunks)
        if ref.endswith(".zst"):
            data = _zstd().ZstdDecompressor().decompress(data)
        elif ref.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8", "surrogatepass")

    def remove(self, ref: str) -> None:
        """Remove object ``ref``; a missing one is no error (S3 cannot tell them apart).

        Raises:
            ObjectStoreError: the storage failed the removal.
        """
        try:
            self.fs.rm_file(self._path(ref))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ObjectStoreError(f"cannot remove from object store: {exc}") from exc

    def scan(self) -> Iterator[StoredObject]:
        """Every object directly under the store's URL (names this module did not make
        too, with ``created`` None), in no particular order.

        Raises:
            ObjectStoreError: the storage failed the listing.
        """
        try:
            self.fs.invalidate_cache(self.root)  # listings may be cached (s3fs)
            if not self.fs.exists(self.root):
                return
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ObjectStoreError(f"cannot list object store: {exc}") from exc
        for entry in entries:
            if entry.get("type") != "file":
                continue
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            created = created_at(name) if is_object_name(name) else None
            yield StoredObject(name=name, size=int(entry.get("size") or 0), created=created)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:
        raise ObjectStoreError(
            "zstd compression needs zstandard: pip install 'xcomkit[objects]'"
        ) from None
    return zstandard


# ----------------------------------------------------------------- references in rows


def references(conn: Connection) -> set[str]:
    """The object names that XCom rows point at (``value_ref``; uses its index)."""
    rows = conn.execute(select(xcom.c.value_ref).where(xcom.c.value_ref.is_not(None)))
    return {ref for (ref,) in rows}


@dataclass
class GcReport:
    """What :func:`collect_garbage` found and did. Sizes are in bytes.

    ``referenced``: objects a row points at (kept). ``garbage``: objects no row points
    at, old enough to remove. ``young``: objects no row points at yet, newer than the
    minimum age (kept: their write may not have committed). ``foreign``: files whose
    names this store did not make (never touched). ``removed``: garbage actually removed
    (0 in a dry run). ``dangling``: references whose object was not listed (a write
    that committed during the run, or an object removed behind xcomkit's back).
    """

    referenced: list[StoredObject] = field(default_factory=list)
    garbage: list[StoredObject] = field(default_factory=list)
    young: list[StoredObject] = field(default_factory=list)
    foreign: list[StoredObject] = field(default_factory=list)
    removed: int = 0
    removed_bytes: int = 0
    dangling: int = 0


def collect_garbage(
    engine: Engine, store: ObjectStore, *, min_age: float, apply: bool, now: float | None = None
) -> GcReport:
    """Find (and with ``apply``, remove) objects that no XCom row points at.

    The objects are listed *before* the rows' references are read, and only objects
    named at least ``min_age`` seconds before ``now`` (default: the clock) are garbage:
    a write puts its object, then commits its row, so an object listed here whose row
    commits after the references were read is younger than any sensible ``min_age``.

    Raises:
        ObjectStoreError: the storage failed a listing or a removal.
    """
    found = list(store.scan())
    with engine.connect() as conn:
        refs = references(conn)
    now = time.time() if now is None else now
    report = GcReport()
    for obj in found:
        if obj.created is None:
            report.foreign.append(obj)
        elif obj.name in refs:
            report.referenced.append(obj)
        elif now - obj.created < min_age:
            report.young.append(obj)
        else:
            report.garbage.append(obj)
    report.dangling = len(refs - {obj.name for obj in report.referenced})
    if apply:
        for obj in report.garbage:
            store.remove(obj.name)
            report.removed += 1
            report.removed_bytes += obj.size
    return report
