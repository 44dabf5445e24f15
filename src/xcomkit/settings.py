"""Server settings, read from arguments and ``XCOMKIT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB_URL = "sqlite:///xcomkit.db"


class Settings(BaseSettings):
    """Everything the server needs to start.

    Each field can be set with an environment variable named ``XCOMKIT_<FIELD>``
    (for example ``XCOMKIT_DB`` or ``XCOMKIT_JWT_SECRET``) or passed explicitly.
    """

    model_config = SettingsConfigDict(env_prefix="XCOMKIT_", extra="ignore")

    db: str = Field(
        default=DEFAULT_DB_URL,
        description="SQLAlchemy database URL: sqlite:///path.db or postgresql+psycopg://...",
    )
    auth: bool = Field(default=True, description="False only for --no-auth development mode.")
    jwt_secret: str | None = Field(
        default=None,
        description="HMAC secret for signing tokens; generated and kept in the database if unset.",
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
