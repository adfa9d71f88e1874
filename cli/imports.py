"""`zhaoshang import ledger FILE [--dry-run] [--fine-rows-only]`: the ledger import (DESIGN §19)
from the command line, through the same command as `POST /imports` and the page.

Exit 0 when the file was recorded (or previewed) without problems, 1 when a row has a problem
(each printed as `row N: column: reason`), 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domain.errors import DomainError
from domain.events import Actor
from domain.output_safety import terminal_safe
from i18n import localise_error
from services.bootstrap import bootstrap
from services.imports import ImportRequest
from services.settings import Settings

CLI_ACTOR = Actor("cli", "admin")
PHASES = {"read": "读取", "check": "检查并保存"}


def _ledger(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as e:
        print(terminal_safe(f"cannot read {path}: {e.strerror}"), file=sys.stderr)
        return 2
    services = bootstrap(settings)
    try:
        # Associations are found by name in the read models: bring them up to the log first.
        services.runner.run_once()
        request = ImportRequest(
            data=data,
            file_name=path.name,
            actor=CLI_ACTOR,
            dry_run=args.dry_run,
            fine_rows_only=args.fine_rows_only,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=None,
            transient=True,
        ) as bar:
            task = bar.add_task(PHASES["read"], total=None)

            def progress(phase: str, done: int, total: int) -> None:
                bar.update(task, description=PHASES[phase], completed=done, total=total)

            try:
                report = services.imports.run(request, progress=progress)
            except DomainError as e:
                bar.stop()
                message = localise_error(e.code, e.message, "zh")
                print(terminal_safe(f"error: {e.code}: {message}"), file=sys.stderr)
                return 2
    finally:
        services.close()
    for line in report.problem_lines():
        print(terminal_safe(line, keep_newlines=False))
    print(terminal_safe(_summary(report.as_dict())))
    return 1 if report.has_problems else 0


def _summary(report: dict[str, Any]) -> str:
    if report["status"] == "already_imported":
        batch = report.get("batch") or {}
        return (
            f"already imported: batch {report['batch_id']} by {batch.get('by', '')} at "
            f"{batch.get('at', '')} — nothing recorded"
        )
    return (
        f"{report['status']}: batch {report['batch_id']} — {report['rows_fine']} fine, "
        f"{report['rows_with_problems']} with problems, {report['rows_duplicate']} already "
        f"recorded, {report['rows_skipped']} totals skipped; {report['rows_recorded']} recorded"
    )


def register(commands: Any, handlers: dict[str, Any]) -> None:
    group = commands.add_parser("import", help="import data (a ledger, 项目台账)")
    kinds = group.add_subparsers(dest="import_kind", required=True)
    ledger = kinds.add_parser("ledger", help="import a 项目台账 (.xlsx, .xls, .csv)")
    ledger.add_argument("file", help="the ledger file")
    ledger.add_argument("--dry-run", action="store_true", help="preview only; record nothing")
    ledger.add_argument(
        "--fine-rows-only",
        action="store_true",
        help="record the rows without a problem even if others have one",
    )
    handlers["import"] = _ledger
