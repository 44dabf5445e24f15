"""Python's cyclic garbage collector paused while a process starts.

Starting ``xcomkit serve`` creates about 160,000 tracked objects (modules, classes,
functions, pydantic schemas, SQLAlchemy constructs) and almost no garbage: about 1,600
unreachable objects by the time the app is built. The collector does not know that; it
runs whenever 700 more objects were allocated than freed, about 250 times during a
start, each time walking the young objects and, every so often, all of them. That
came to 100-150 ms of the ~0.9 s of CPU before the first answer (docs/performance.md,
"Start-up"). So the ``xcomkit`` command pauses the collector (:func:`pause`) until
the command starts, and ``serve`` until its app is built; then :func:`resume`
switches it back on, for ``serve`` after :func:`gc.freeze`, which moves everything
that exists at that moment into a generation the collector never walks again. Request
handling then runs with the collector exactly as before, minus the walks over the
start-up objects; the few start-up objects that were garbage are kept (a few hundred
KiB, once).

Only what this module paused is resumed: a process that had disabled the collector
itself keeps it disabled.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Disable the collector, if it is enabled; :func:`resume` enables it again."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume(*, freeze: bool = False) -> None:
    """Enable the collector again if :func:`pause` disabled it.

    Args:
        freeze: first move every object tracked now to the permanent generation
            (:func:`gc.freeze`), for a process whose start-up objects live as long as
            it does (a server).
    """
    global _paused
    if not _paused:
        return
    if freeze:
        gc.freeze()
    _paused = False
    gc.enable()


def paused() -> bool:
    """Whether the collector is paused by :func:`pause` now."""
    return _paused
