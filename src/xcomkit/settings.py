"""Server settings, read from arguments and ``XCOMKIT_*`` environment variables."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from xcomkit.private_files import is_shared

DEFAULT_DB_URL = "sqlite:///xcomkit.db"


class Settings(BaseSettings):
    """Everything the server needs to start.

    Each field can be set with an environment variable named ``XCOMKIT_<FIELD>``
    (for example ``XCOMKIT_DB`` or ``XCOMKIT_JWT_SECRET``) or passed explicitly.
    """

    # Errors never echo their input: a rejected secret must not reach a log.
    model_config = SettingsConfigDict(
        env_prefix="XCOMKIT_", extra="ignore", hide_input_in_errors=True
    )

    db: str = Field(
        default=DEFAULT_DB_URL,
        description="SQLAlchemy database URL: sqlite:///path.db or postgresql+psycopg://...",
    )
    auth: bool = Field(default=True, description="False only for --no-auth development mode.")
    jwt_secret: str | None = Field(
        default=None,
        description=(
            "HMAC secret for signing tokens (at least 32 bytes); generated and kept in the "
            "database if neither this nor jwt_secret_file is set."
        ),
    )
    jwt_secret_file: Path | None = Field(
        default=None,
        description="File holding the HMAC secret (trailing newline ignored), kept outside the DB.",
    )
    jwt_expiration_seconds: int = Field(
        default=86400, ge=1, description="Lifetime of issued access tokens, in seconds."
    )
    jwt_cli_expiration_seconds: int = Field(
        default=3600, ge=1, description="Lifetime of tokens from /auth/token/cli, in seconds."
    )
    maximum_page_limit: int = Field(
        default=100, ge=1, description="Cap on `limit` for list endpoints (Airflow's default)."
    )
    sqlite_busy_timeout_ms: int = Field(default=30000, ge=0)
    token_cache_seconds: float = Field(
        default=10.0, ge=0, description="How long a verified token is remembered."
    )
    dags_file: Path | None = None
    request_timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds a request may wait for and spend on database work and password checks; "
            "past it the request answers 503 with Retry-After and changes nothing."
        ),
    )
    read_threads: int = Field(default=4, ge=1, description="Threads for point lookups.")
    scan_threads: int = Field(
        default=2, ge=1, description="Threads for list queries (at most this many at once)."
    )
    write_threads: int = Field(
        default=4, ge=1, description="Threads for writes on PostgreSQL (SQLite: always one)."
    )
    hash_threads: int = Field(
        default=1, ge=1, description="Password checks at once (each takes 64 MiB, by design)."
    )
    max_waiting: int = Field(
        default=128, ge=1, description="Requests that may queue per lane before 503."
    )
    login_failures_per_user: int = Field(
        default=10,
        ge=0,
        description="Failed logins per user name per window before 429 (0: no limit).",
    )
    login_failures_per_client: int = Field(
        default=50,
        ge=0,
        description="Failed logins per client address per window before 429 (0: no limit).",
    )
    login_window_seconds: float = Field(
        default=60.0, gt=0, description="Length of the failed-login window, in seconds."
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes; larger ones answer 413 unread.",
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request body may take to arrive, then 408."
    )
    login_body_timeout: float = Field(
        default=5.0, gt=0, description="Seconds a login body may take to arrive, then 408."
    )
    login_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="Largest body accepted by /auth/token and /auth/token/cli, in bytes.",
    )

    object_store: str | None = Field(
        default=None,
        description=(
            "fsspec URL where large values go (file:///abs/dir, s3://bucket/prefix, "
            "memory://name); needed to read values already offloaded too."
        ),
    )
    object_store_options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "JSON object of options for the object store's file system (fsspec "
            'storage_options), e.g. {"endpoint_url": "http://127.0.0.1:9000"} for s3://.'
        ),
    )
    offload_threshold: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Values whose stored JSON is longer than this many bytes go to the object "
            "store (unset: every value stays in its row)."
        ),
    )
    offload_compression: Literal["none", "gzip", "zstd"] = Field(
        default="none", description="How offloaded values are compressed: none, gzip or zstd."
    )
    max_value_bytes: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Largest XCom value accepted, in bytes of stored JSON; larger ones answer 413, "
            "bodies far over it before they are read (unset: only max_body_bytes)."
        ),
    )
    object_threads: int = Field(
        default=4, ge=1, description="Threads for object-store reads and writes."
    )

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, secret: str | None) -> str | None:
        if secret is not None:
            check_secret(secret, "XCOMKIT_JWT_SECRET")
        return secret

    @model_validator(mode="after")
    def _offload_needs_a_store(self) -> Settings:
        if self.offload_threshold is not None and not self.object_store:
            raise ValueError(
                "XCOMKIT_OFFLOAD_THRESHOLD needs XCOMKIT_OBJECT_STORE (where values go)"
            )
        return self

    @model_validator(mode="after")
    def _secret_from_file(self) -> Settings:
        if self.jwt_secret_file is not None:
            if self.jwt_secret is not None:
                raise ValueError("set XCOMKIT_JWT_SECRET or XCOMKIT_JWT_SECRET_FILE, not both")
            self.jwt_secret = read_secret_file(self.jwt_secret_file)
        return self


#: Shortest accepted signing secret: HS512 keys shorter than this are guessable offline
#: from a single token.
MIN_SECRET_BYTES = 32


def check_secret(secret: str, source: str) -> None:
    """Refuse a signing secret shorter than :data:`MIN_SECRET_BYTES` (UTF-8 bytes).

    Raises:
        ValueError: naming ``source`` and the length required.
    """
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{source} must be at least {MIN_SECRET_BYTES} bytes long "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


def read_secret_file(path: Path) -> str:
    """The secret kept in ``path``, without its trailing newline; checked for length.

    Raises:
        ValueError: the file cannot be read, or holds a secret that is too short.
    """
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"cannot read XCOMKIT_JWT_SECRET_FILE {path}: {exc.strerror}") from None
    check_secret(secret, f"the secret in {path}")
    if is_shared(path):
        logging.getLogger("xcomkit.settings").warning(
            "%s (XCOMKIT_JWT_SECRET_FILE) is readable by other users; make it mode 0600", path
        )
    return secret
