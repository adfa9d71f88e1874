"""The composition root: every service of the product built once from `Settings`.

    services = bootstrap(Settings())            # the HTTP app, the CLI, the scheduler, tests
    services.ledger.record_visit(...)           # the application (commands, queries)
    services.read_models.ledger_page(...)       # the read models
    services.background().start()               # the one projection runner and the scheduler

Nothing else constructs the event store, the application, the projection runner, the read
models, the document store, the rules registries, the users or the settlement service, and
nothing else reads the environment (only `Settings` does). Each service is made on first use
and then kept, so a command that needs only the users store never sets up the read models.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from adapters.checkpoints import WalCheckpointer, sqlite_file
from adapters.database import open_ledger
from adapters.documents import DocumentStore
from adapters.files import FileIndex, FolderFileStore
from adapters.lock import CommandLock, write_gate
from adapters.notifications import NotificationStore
from adapters.reader import reader_for
from adapters.sessions import SessionStore
from adapters.throttle import Throttle
from adapters.users import UserStore
from domain import errors
from domain.application import Ledger, utc_now
from domain.events import Actor
from projections.catalogue import all_projections
from projections.figures import associations_counted_between
from projections.policy import PolicyRegistry
from projections.policy.evaluation_rules import (
    DEFAULT_FOLLOW_UP_DAYS,
    EvaluationRegistry,
    EvaluationRules,
    EvaluationRulesError,
    EvaluationRulesNotFound,
)
from projections.policy.registry import RulesRegistry, load_rules
from projections.queries import ReadModels
from projections.runtime import ProjectionRunner, engine_of
from services.accounts import AccountService
from services.background import BackgroundWork
from services.evaluations import EvaluationService
from services.files import FileService
from services.imports import ImportReport, ImportService
from services.notifications import NotificationSender, NotificationService
from services.settings import Settings
from services.settlements import SettlementService
from services.todo import TodoRules

# Events after a kept evaluation's position looked through for the associations they moved; more
# than this and the year's counters are summed whole again (about as cheap by then).
MOVED_EVENTS_AT_MOST = 20_000


class Services:
    """The product's services over one database, sharing one engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        if clock is None:
            clock = ledger.clock if ledger is not None else utc_now
        self.clock = clock
        self._owns_ledger = ledger is None
        # An SQLite file's log, checkpointed off the writers' path (`adapters.checkpoints`).
        self.checkpointer: WalCheckpointer | None = None
        if ledger is not None:
            self.__dict__["ledger"] = ledger
            ledger.duplicates = self.read_models

    @cached_property
    def ledger(self) -> Ledger:
        """The application (commands and queries) on the event store; it looks for duplicates
        in the read models."""
        ledger = open_ledger(self.settings.database_url, self.clock, checkpoints_in_commits=False)
        database = sqlite_file(engine_of(ledger))
        if database is not None:
            self.checkpointer = WalCheckpointer(database, self.settings.sqlite_checkpoint_seconds)
            self.checkpointer.start()
        self.__dict__["ledger"] = ledger
        ledger.duplicates = self.read_models
        return ledger

    @cached_property
    def engine(self) -> Engine:
        """The event store's engine; read models, documents and users share it."""
        return engine_of(self.ledger)

    @cached_property
    def command_lock(self) -> CommandLock:
        """The process's lock around its commands, one at a time (`adapters.lock`)."""
        return CommandLock(write_gate(self.engine))

    @cached_property
    def users(self) -> UserStore:
        return UserStore(engine=self.engine, clock=self.clock)

    @cached_property
    def accounts(self) -> AccountService:
        """People's accounts: commands kept in step with the user store, logins, sessions,
        the throttle (DESIGN §16)."""
        return AccountService(
            self.ledger,
            self.users,
            SessionStore(self.engine),
            Throttle(self.engine),
            clock=self.clock,
            token_days=self.settings.token_days,
        )

    @cached_property
    def read_models(self) -> ReadModels:
        return ReadModels(self.engine)

    @cached_property
    def documents(self) -> DocumentStore:
        return DocumentStore(self.engine)

    @cached_property
    def rules(self) -> RulesRegistry:
        """The one rules registry (reward policies and evaluation rules): the project's
        folder, then `ZHAOSHANG_POLICY_PATH`; loaded once, replaced by `reload_rules`."""
        return load_rules(self.settings.policy_folders(), loaded_at=self.clock())

    @cached_property
    def files(self) -> FileService:
        """Evidence files: the folder store (`ZHAOSHANG_FILES_DIR`) and its index."""
        return FileService(
            ledger=self.ledger,
            store=FolderFileStore(self.settings.files_folder()),
            index=FileIndex(self.engine),
            max_upload_bytes=self.settings.max_upload_bytes,
        )

    @property
    def policies(self) -> PolicyRegistry:
        return self.rules.policies

    @property
    def evaluation_registry(self) -> EvaluationRegistry:
        return self.rules.evaluation

    def reload_rules(self) -> RulesRegistry:
        """Read every rules file again and swap the registry whole. A file that is now bad is
        listed as refused and its policy is no longer offered (never its stale version)."""
        fresh = load_rules(self.settings.policy_folders(), loaded_at=self.clock())
        self.__dict__["rules"] = fresh
        self.__dict__.pop("evaluation_rules", None)
        self.__dict__.pop("follow_up_interval_days", None)
        if "settlements" in self.__dict__:
            self.settlements.registry = fresh.policies
        return fresh

    @cached_property
    def evaluation_rules(self) -> EvaluationRules:
        return self.evaluation_registry.get()

    @cached_property
    def follow_up_interval_days(self) -> int:
        """The 回访 interval: the setting if given, else the rules file's (三(四))."""
        configured = self.settings.follow_up_interval_days
        if configured:
            return configured
        try:
            return self.evaluation_rules.follow_up_interval_days
        except (EvaluationRulesError, EvaluationRulesNotFound):
            return DEFAULT_FOLLOW_UP_DAYS

    @cached_property
    def todo(self) -> TodoRules:
        """The rules of 待办, shared by the start pages and the reminders."""
        return TodoRules(
            self.read_models,
            self.follow_up_interval_days,
            follow_up_within_days=self.settings.follow_up_within_days,
            stalled_signing_months=self.settings.stalled_signing_months,
            issue_open_days=self.settings.issue_open_days,
        )

    @cached_property
    def runner(self) -> ProjectionRunner:
        """The projection runner (it runs in the process holding the runner lock)."""
        return ProjectionRunner(
            self.ledger,
            all_projections(),
            live_batch_size=self.settings.projection_batch_events,
            live_batch_aggregates=self.settings.projection_batch_aggregates,
        )

    @cached_property
    def settlements(self) -> SettlementService:
        return SettlementService(
            ledger=self.ledger,
            registry=self.policies,
            documents=self.documents,
            read_models_position=lambda: self.read_models.position("rewards"),
            wait_seconds=self.settings.read_models_wait_seconds,
        )

    @cached_property
    def evaluations(self) -> EvaluationService:
        """A year's evaluation from the read models, computed once per state of them (the
        evaluation page, `GET /evaluations/{year}`, the designation award)."""
        reader = reader_for(self.ledger)
        return EvaluationService(
            self.read_models,
            lambda: self.evaluation_rules,
            moved=lambda after, upto: associations_counted_between(
                reader, after, upto, MOVED_EVENTS_AT_MOST
            ),
        )

    @cached_property
    def imports(self) -> ImportService:
        """The ledger import (DESIGN §19): associations by name and projects already recorded
        are looked up in the read models."""
        return ImportService(
            self.ledger,
            associations=self.read_models.associations,
            project_keys=self.read_models.project_keys,
            on_recorded=self._import_finished,
        )

    def _import_finished(self, report: ImportReport, author: Actor) -> None:
        """The author's "import finished" notification (DESIGN §20), once per batch. Events
        name their actor by account name; notifications go to the account's id."""
        try:
            recipient = self.accounts.account_named(author.id)
        except errors.NotFound:
            return  # an actor without an account (e.g. a system actor) has no inbox
        self.notifications.notify(
            "import_finished",
            subject=report.batch_id,
            recipient_id=recipient.id,
            period=report.batch_id,
            args={
                "file": report.file_name,
                "recorded": str(report.rows_recorded),
                "refused": str(report.count("problem")),
            },
            link="/app/imports",
        )

    @cached_property
    def notifications(self) -> NotificationService:
        """Reminders and other notifications, each user's channels and the delivery outbox
        (DESIGN §20)."""
        return NotificationService(
            store=NotificationStore(self.engine),
            todo=self.todo,
            accounts=self.accounts.accounts,
            settlements=self._settlements_listing,
            settings=self.settings,
            clock=self.clock,
            refresh=lambda: self.runner.run_once(),  # the runner is built only when asked
        )

    def _settlements_listing(self) -> list[dict[str, Any]]:
        """Every frozen settlement (`SettlementService.describe`), for the approval reminders."""
        found = []
        for policy_id in self.policies.ids():
            policy = self.policies.get(policy_id)
            for year in range(policy.valid_from.year, policy.valid_to.year + 1):
                if self.ledger.find_settlement(policy_id, year) is not None:
                    found.append(self.settlements.describe(policy_id, year))
        return found

    def background(self, *, scheduler_enabled: bool | None = None) -> BackgroundWork:
        """The projection runner and (unless turned off) the scheduler, for one process."""
        from scheduler.catch_up import CatchUp, notifications_job, settlement_job, standard_kinds

        enabled = (
            self.settings.scheduler_enabled if scheduler_enabled is None else scheduler_enabled
        )
        catch_up = CatchUp(
            self.runner,
            self.documents,
            self.read_models,
            standard_kinds(self.read_models, self.follow_up_interval_days, self.evaluation_rules),
            [
                settlement_job(self.settlements, self.settings.settlement_month_day()),
                notifications_job(self.notifications),
            ],
        )
        return BackgroundWork(
            lock_url=self.settings.database_url,
            runner=self.runner,
            catch_up=catch_up,
            settlements=self.settlements,
            clock=self.clock,
            scheduler_enabled=enabled,
            poll_interval=self.settings.projection_poll_seconds,
            notifications=NotificationSender(
                self.notifications, self.settings.notification_poll_seconds
            ),
        )

    def close(self) -> None:
        try:
            if "users" in self.__dict__:
                self.users.close()
            if self._owns_ledger and "ledger" in self.__dict__:
                self.ledger.close()
        finally:
            if self.checkpointer is not None:
                self.checkpointer.stop()
                self.checkpointer = None


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    ledger: Ledger | None = None,
) -> Services:
    """The services for `settings` (from the `ZHAOSHANG_*` environment when not given)."""
    return Services(settings if settings is not None else Settings(), clock=clock, ledger=ledger)


def hand_to_workers(settings: Settings) -> None:
    """Pass `settings` to worker processes started from this one (`serve --workers N`: uvicorn
    starts them from an import string, and each builds its services from the environment)."""
    os.environ.update(settings.as_environment())
