"""Settings in one place, read from `ZHAOSHANG_*` environment variables and passed inward.

This is the only module that reads the environment; the composition root (`services.bootstrap`)
hands the settings to everything else, worker processes included.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    # Evidence files (`POST /files`): where the folder store keeps them (empty: a folder beside
    # the SQLite file, `<name>-files/`, or `./files` for PostgreSQL) and the upload limit,
    # which replaces the JSON body limit on that one endpoint.
    files_dir: str = ""
    max_upload_bytes: int = 20 * 1024 * 1024
    # Days a new API token lives unless its `expires_on` says otherwise (DESIGN §16).
    token_days: int = 90
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For/-Proto are
    # believed: the client's address for the throttle, https for `Secure` cookies.
    trusted_proxies: str = ""
    # Background work (projection runner, scheduler; `services/background.py`). An app made by
    # `create_app` runs them in its lifespan unless told not to; `serve` runs them in a process
    # of its own (`zhaoshang background`) and turns them off in the API processes, and starts
    # none at all when this is false (the runner then runs elsewhere).
    background_services: bool = True
    # `serve --no-scheduler`: no scheduled documents; the projections keep running.
    scheduler_enabled: bool = True

    # How often the projection runner polls the log for new events (SQLite has no NOTIFY).
    projection_poll_seconds: float = 0.5
    # The runner's batches as it follows the log: at most this many events, on at most this
    # many aggregates. Each projection holds the database's writer (SQLite has one) while it
    # writes a batch's rows, about one per aggregate, so the aggregates bound how long an API
    # command can wait behind the runner; the events, how much it decodes at once (issue 23).
    projection_batch_events: int = Field(default=2000, ge=1, le=100_000)
    projection_batch_aggregates: int = Field(default=200, ge=1, le=100_000)
    # How often each process moves an SQLite file's write-ahead log into the database
    # (`adapters.checkpoints`), so that no command's commit does it (issue 23).
    sqlite_checkpoint_seconds: float = Field(default=0.5, gt=0, le=60)
    # `zhaoshang projections rebuild` lowers its own CPU priority by this much (0 to 19, as
    # `nice`): a rebuild is background work, and on a small machine it would otherwise take a
    # core from the API's commands for minutes (issue 23).
    rebuild_niceness: int = Field(default=10, ge=0, le=19)
    # How long a read that needs fresh figures (`GET /rewards`) waits for the runner.
    read_models_wait_seconds: float = 60.0

    # 待办 and reminders (DESIGN §17, §20): how far ahead a due 回访 is shown, when a signing
    # counts as stalled, when an open issue is overdue.
    follow_up_within_days: int = 14
    stalled_signing_months: int = 3
    issue_open_days: int = 30

    # Notifications (DESIGN §20, issue 22). E-mail over SMTP (empty host: no e-mail is sent and
    # e-mail deliveries wait); the password is read from here only, never stored or logged.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "zhaoshang@localhost"
    # The hosts a user's robot webhook may name (comma-separated; `host` for the scheme's
    # default port, `host:port` for another): only the official WeCom and DingTalk robot hosts
    # unless the department adds its own relay. https only unless `webhook_allow_http` (tests
    # with a local receiver set both: `ZHAOSHANG_WEBHOOK_HOSTS=127.0.0.1:8081`,
    # `ZHAOSHANG_WEBHOOK_ALLOW_HTTP=true`).
    webhook_hosts: str = "qyapi.weixin.qq.com,oapi.dingtalk.com"
    webhook_allow_http: bool = False
    # The base of every link in a message (never a request's Host header).
    public_url: str = "http://127.0.0.1:8000"
    # The outbox: how often the background sender looks for due deliveries, the first retry's
    # delay (doubled after each failure), how many attempts before a delivery is failed, and
    # each attempt's socket timeout.
    notification_poll_seconds: float = 5.0
    notification_retry_seconds: float = 30.0
    notification_max_attempts: int = 6
    notification_timeout_seconds: float = 10.0

    def policy_folders(self) -> list[Path]:
        """The folders of `ZHAOSHANG_POLICY_PATH` (`:`-separated), read after the project's."""
        return [Path(p) for p in self.policy_path.split(":") if p.strip()]

    def files_folder(self) -> Path:
        """The folder of evidence files: `ZHAOSHANG_FILES_DIR`, else beside the SQLite file."""
        if self.files_dir.strip():
            return Path(self.files_dir)
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            database = Path(self.database_url[len(prefix) :].split("?", 1)[0])
            return database.with_name(f"{database.stem}-files")
        return Path("files")

    def settlement_month_day(self) -> tuple[int, int]:
        """`01-15` → (1, 15): the day of the next year on which a year is settled."""
        month, day = (int(part) for part in self.settlement_day.split("-"))
        return month, day

    def webhook_host_list(self) -> list[str]:
        return [h.strip().lower() for h in self.webhook_hosts.split(",") if h.strip()]

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    def as_environment(self) -> dict[str, str]:
        """These settings as `ZHAOSHANG_*` variables, for processes started from this one."""
        environment = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            environment[f"ZHAOSHANG_{name.upper()}"] = text
        return environment
