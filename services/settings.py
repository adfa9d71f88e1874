"""Settings in one place, read from `ZHAOSHANG_*` environment variables and passed inward."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHAOSHANG_", extra="ignore")

    database_url: str = "sqlite:///zhaoshang.db"
    policy_path: str = ""
    # The 回访 interval comes from the rules file (三(四), 180 days); set this to override it.
    follow_up_interval_days: int | None = None
    # Ed25519 keys for signed checkpoints: the key itself (PEM or 64 hex digits) or a file
    # holding it (`*_FILE`, which wins). Never stored in the database.
    checkpoint_private_key: str = ""
    checkpoint_public_key: str = ""
    checkpoint_private_key_file: str = ""
    checkpoint_public_key_file: str = ""
    settlement_day: str = "01-15"

    # HTTP API
    max_body_bytes: int = 1024 * 1024  # larger request bodies are refused with 413
    # Background services (projection runner, scheduler; `api/lifecycle.py`). The API process
    # runs them unless told not to: `serve --workers N` runs them once in the parent process and
    # turns them off in the workers.
    background_services: bool = True
    # `serve --no-scheduler`: no scheduled documents; the projections keep running.
    scheduler_enabled: bool = True
