"""One `Settings`, read from the environment; names follow the original LUNA2025 service.

settings = load_settings()          # exits with one clear line on a bad value
settings.database_url, settings.amqp_url, settings.minio_bucket
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from luna import constants


class Settings(BaseSettings):
    """Configuration of one luna process (`serve` or `worker`)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str | None = None
    minio_endpoint: str | None = None
    minio_public_endpoint: str | None = None
    minio_access_key: str = "minioadmin"
    minio_secret_key: SecretStr = SecretStr("minioadmin")
    minio_bucket: str = "luna-datasets"
    minio_region: str = "us-east-1"
    minio_secure: bool = False
    amqp_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AMQP_URL", "CELERY_BROKER_URL")
    )
    redis_url: str | None = None
    jwt_secret_key: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    luna_host: str = "0.0.0.0"
    luna_port: int = Field(default=8000, ge=0, le=65535)
    luna_validators: int = Field(default=2, ge=0, le=64)
    luna_data_dir: Path = Path(".luna")
    # The address clients use to reach luna; embedded-store upload URLs point here.
    luna_public_url: str | None = None
    # When set and no organiser exists yet, create one with this name at start; its password
    # is read from (or written to) LUNA_DATA_DIR/organiser-password.
    luna_first_organiser: str | None = None
    luna_queue: str = "luna.validation"
    luna_max_files: int = Field(default=constants.MAX_FILES_PER_DATASET, ge=1)
    luna_max_file_bytes: int = Field(default=constants.MAX_FILE_BYTES, ge=1)
    # Service-wide quota defaults; `python -m luna team quota` sets a team's own.
    luna_quota_datasets_per_day: int = Field(default=constants.QUOTA_DATASETS_PER_DAY, ge=0)
    luna_quota_bytes_stored: int = Field(default=constants.QUOTA_BYTES_STORED, ge=0)
    # Files above the threshold upload in parts of this size (S3 multipart).
    luna_multipart_threshold_bytes: int = Field(default=constants.MULTIPART_THRESHOLD_BYTES, ge=0)
    luna_multipart_part_bytes: int = Field(
        default=constants.MULTIPART_PART_BYTES, ge=constants.S3_MIN_PART_BYTES
    )
    luna_upload_url_expires_s: int = Field(default=constants.UPLOAD_URL_EXPIRES_S, ge=60)
    luna_token_expires_s: int = Field(default=constants.ACCESS_TOKEN_EXPIRES_S, ge=60)
    luna_job_time_limit_s: float = Field(default=constants.JOB_TIME_LIMIT_S, gt=0)
    luna_abandon_after_s: float = Field(default=constants.ABANDON_AFTER_S, gt=0)
    luna_shutdown_grace_s: float = Field(default=constants.SHUTDOWN_GRACE_S, ge=0)
    # Settled jobs' status bodies kept in memory per replica (0 turns the cache off).
    luna_status_cache_entries: int = Field(default=constants.STATUS_CACHE_ENTRIES, ge=0)
    # A job's life: first retry delay (doubling per attempt), heartbeat, and how stale a
    # processing job's heartbeat may grow before the sweep re-queues it.
    luna_job_retry_delay_s: float = Field(default=constants.JOB_RETRY_DELAY_S, ge=0)
    luna_heartbeat_interval_s: float = Field(default=constants.HEARTBEAT_INTERVAL_S, gt=0)
    luna_heartbeat_stale_s: float = Field(default=constants.HEARTBEAT_STALE_S, gt=0)
    luna_reconcile_interval_s: float = Field(default=constants.RECONCILE_INTERVAL_S, gt=0)
    # Connection pools: how many connections each holds, and how long a request waits for a
    # free one before it is answered 503 with Retry-After (never an unbounded wait or a 500).
    # The database pool defaults to LUNA_VALIDATORS + 10.
    luna_db_pool_size: int | None = Field(default=None, ge=1, le=1000)
    luna_redis_pool_size: int = Field(default=constants.REDIS_POOL_SIZE, ge=1, le=10_000)
    luna_s3_pool_size: int = Field(default=constants.S3_POOL_SIZE, ge=1, le=1000)
    luna_pool_wait_s: float = Field(default=constants.POOL_WAIT_S, gt=0)
    # Password checks (scrypt) running at once, in threads of their own, and how long a login
    # waits for its turn before a 503: a burst of logins cannot starve the event loop.
    luna_login_concurrency: int = Field(default=constants.LOGIN_CONCURRENCY, ge=1, le=64)
    luna_login_wait_s: float = Field(default=constants.LOGIN_WAIT_S, gt=0)
    # What a slow client may hold (luna.http.server): the request headers must arrive within
    # LUNA_HEADER_TIMEOUT_S; a body within LUNA_BODY_TIMEOUT_S, or at least at
    # LUNA_BODY_MIN_BYTES_PER_S on average after that.
    luna_header_timeout_s: float = Field(default=constants.HEADER_TIMEOUT_S, gt=0)
    luna_body_timeout_s: float = Field(default=constants.BODY_TIMEOUT_S, gt=0)
    luna_body_min_bytes_per_s: int = Field(default=constants.BODY_MIN_BYTES_PER_S, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("minio_endpoint", "minio_public_endpoint", mode="after")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if "://" not in value:
            # MinIO deployments often give host:port; the scheme follows MINIO_SECURE later.
            return value
        return value.rstrip("/")

    def db_pool_size(self) -> int:
        """LUNA_DB_POOL_SIZE, else room for every validator and the API's requests."""
        return self.luna_db_pool_size or self.luna_validators + 10

    def public_url(self) -> str:
        """luna's address as clients see it (LUNA_PUBLIC_URL, else from host and port)."""
        if self.luna_public_url:
            return self.luna_public_url.rstrip("/")
        host = "127.0.0.1" if self.luna_host in ("0.0.0.0", "::", "") else self.luna_host
        return f"http://{host}:{self.luna_port}"

    def s3_url(self, endpoint: str) -> str:
        """An endpoint as a URL, adding the scheme MINIO_SECURE implies when it has none."""
        if "://" in endpoint:
            return endpoint
        return f"{'https' if self.minio_secure else 'http'}://{endpoint}"


def _env_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    if field == "amqp_url":
        return "AMQP_URL"
    return field.upper()


def load_settings() -> Settings:
    """Settings from the environment; a bad value stops the process with one line naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _env_name(first["loc"])
        sys.stderr.write(f"luna: bad configuration: {name}: {first['msg']}\n")
        raise SystemExit(2) from None
