"""Set-up of a process that only serves the API: ``xcomkit serve`` and its uvicorn workers.

:mod:`xcomkit.server.asgi`, the module uvicorn loads in those processes, calls
:func:`prepare_serving_process` before it builds the app. What it does is scoped to such
a process (never done by :func:`xcomkit.server.app.create_app`, which tests and other
programs call in processes of their own).
"""

from __future__ import annotations

import sys

from xcomkit import collector


def import_pyjwt_hmac_only() -> None:
    """Import PyJWT without its optional ``cryptography`` backend, if neither is loaded yet.

    xcomkit signs and verifies its tokens with HS512 only (:mod:`xcomkit.server.auth.tokens`),
    which PyJWT computes with the standard library's :mod:`hmac`. When the ``cryptography``
    package is installed, PyJWT imports it anyway (for RSA, EC and EdDSA keys): about 10 MB
    of resident memory and 50 ms of start-up per process (docs/performance.md,
    "Start-up"). PyJWT supports running without it (it is the ``pyjwt[crypto]`` extra):
    while PyJWT is imported here, ``cryptography`` reads as not installed, so PyJWT sets
    itself up for the HMAC algorithms; afterwards the package imports normally again for
    any other user. In this process PyJWT then refuses an RS256/ES256/EdDSA key with
    ``InvalidAlgorithmError``; xcomkit accepts HS512 tokens only in any case.

    Nothing changes when PyJWT or ``cryptography`` is already imported.
    """
    if "jwt" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # import -> ModuleNotFoundError
    try:
        import jwt  # noqa: F401
    finally:
        del sys.modules["cryptography"]


def prepare_serving_process() -> None:
    """Everything :mod:`xcomkit.server.asgi` does to its process before building the app:
    pauses the garbage collector (:mod:`xcomkit.collector`; already paused when
    ``xcomkit serve`` runs its only worker itself) and imports PyJWT for HMAC only."""
    collector.pause()
    import_pyjwt_hmac_only()


def serving_process_ready() -> None:
    """What :mod:`xcomkit.server.asgi` does once the app is built: the garbage collector
    runs again, never walking the objects made so far, which live as long as the process
    (:func:`xcomkit.collector.resume` with ``freeze``)."""
    collector.resume(freeze=True)
