"""A local S3 API for the ``s3://`` object-store tests: moto's server mode on a loopback
port, started and stopped by the tests themselves (skipped where moto or s3fs is not
installed, or the server does not start)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class S3:
    """A bucket on a local S3 API: an ``s3://`` URL under it and the s3fs options."""

    endpoint: str
    bucket: str

    @property
    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing"}

    def url(self, prefix: str = "values") -> str:
        return f"s3://{self.bucket}/{prefix}"


@contextmanager
def moto_s3() -> Iterator[S3]:
    """Start moto's S3 server on a free loopback port with one new bucket; stop it after.

    Skips the test where moto or s3fs is missing or the server does not answer.
    """
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    import s3fs

    from tests.conftest import free_port

    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:  # any failure to start means "no local S3 here"
        pytest.skip(f"moto's S3 server did not start: {exc}")
    try:
        s3 = S3(endpoint=f"http://127.0.0.1:{port}", bucket=f"xcomkit-{secrets.token_hex(4)}")
        fs = s3fs.S3FileSystem(
            endpoint_url=s3.endpoint, key="testing", secret="testing", skip_instance_cache=True
        )
        try:
            fs.mkdir(s3.bucket)
        except Exception as exc:  # the server runs but does not answer as S3
            pytest.skip(f"moto's S3 server does not answer: {exc}")
        yield s3
    finally:
        server.stop()
