"""Settings in one place, read from `ZHAOSHANG_*` environment variables and passed inward."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZHAOSHANG_", extra="ignore")

    database_url: str = "sqlite:///zhaoshang.db"
    policy_path: str = ""
    follow_up_interval_days: int = 180
    checkpoint_private_key: str = ""
    checkpoint_public_key: str = ""
    settlement_day: str = "01-15"
