"""Files that hold secrets: created readable by their owner only, with no window at 0644.

The JWT signing secret lives in the database (unless ``XCOMKIT_JWT_SECRET`` or
``XCOMKIT_JWT_SECRET_FILE`` supplies it) and generated passwords in
``.xcomkit/passwords.json``; both must be unreadable by other local users
(docs/security.md, threat model).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("xcomkit.files")

#: Owner read/write only.
PRIVATE_MODE = 0o600
#: SQLite's companion files; SQLite creates them with the database file's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, mode 0600 from the first byte.

    The data goes to a temporary file in the same directory, created 0600 by
    :func:`tempfile.mkstemp`, flushed to disk and renamed over ``path``; a reader sees
    the old file or the new one, never a partial or world-readable one. The parent
    directory is created 0700 when missing.

    Raises:
        OSError: the directory or file cannot be written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def is_shared(path: Path) -> bool:
    """True when ``path`` exists and its group or others have any permission bit."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except FileNotFoundError:
        return False


def secure_sqlite_file(path: Path) -> None:
    """Make the SQLite database at ``path`` (and its -wal/-shm files) owner-only.

    A missing database is created empty with mode 0600 (SQLite then creates its WAL
    and shared-memory files with the same mode). An existing one that group or others
    can read is narrowed to 0600, with a warning: it holds password hashes and, by
    default, the JWT signing secret.

    Raises:
        OSError: the file cannot be created (for example, its directory is missing).
        PermissionError: the file (or a companion) lies in a directory anyone may write
            to (such as /tmp) and belongs to another user, or is a symbolic link there:
            whoever planted it could read everything written to it.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        return
    _refuse_planted(path)
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        if is_shared(candidate):
            log.warning("%s was readable by other users; narrowed to mode 0600", candidate)
            with contextlib.suppress(PermissionError):
                candidate.chmod(PRIVATE_MODE)


def _refuse_planted(path: Path) -> None:
    directory = path.parent
    try:
        shared_dir = bool(directory.stat().st_mode & stat.S_IWOTH)
    except OSError:
        return
    if not shared_dir:
        return
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        try:
            info = candidate.lstat()
        except FileNotFoundError:
            continue
        link = stat.S_ISLNK(info.st_mode)
        if link or info.st_uid != os.geteuid():
            what = "is a symbolic link" if link else "belongs to another user"
            raise PermissionError(
                f"refusing {candidate}: it is in {directory}, which anyone may write to, "
                f"and {what}; whoever made it could read the database. Move the database "
                "to a directory of its own."
            )
