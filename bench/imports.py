"""The ledger import (DESIGN §19): a generated 5,000-row 项目台账 (.xlsx), read, checked and
recorded through the one import command, all-or-nothing in one save. Target ≥ 2,000 rows/s.

    python -m bench.imports [--db sqlite|postgres] [--rows 5000]

`Bench.run` (`python -m bench`) runs it too and records `import` (with `rows_per_s`).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from domain.events import Actor
from services.bootstrap import bootstrap
from services.imports import TEMPLATE_HEADERS, ImportRequest
from services.settings import Settings

TARGET_ROWS_PER_S = 2000.0
CITIES = ("长沙市", "株洲", "湘潭市", "衡阳市", "岳阳", "常德市", "郴州市", "湘西州")
INDUSTRIES = ("C", "制造业", "I 信息传输、软件和信息技术服务业", "F", "K")


def ledger_workbook(rows: int, association: str, tag: str) -> bytes:
    """A template-shaped ledger of `rows` projects: every row referred, signed, with one
    arrival (amounts in 万元 as offices keep them) and a production start."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("项目台账")
    sheet.append([f"{tag} 项目台账"])
    headers = dict(TEMPLATE_HEADERS)
    for money in ("planned_investment", "contract_amount", "arrival_amount"):
        headers[money] = f"{headers[money]}（万元）"
    sheet.append(list(headers.values()))
    start = date(2022, 1, 3)
    for i in range(rows):
        referred = start + timedelta(days=i % 600)
        signed = referred + timedelta(days=30)
        values = {
            "number": f"{tag}-{i:06d}",
            "name": f"产业园项目{tag}-{i}",
            "investor": f"投资有限公司{i % 997}",
            "association": association,
            "city": CITIES[i % len(CITIES)],
            "county": "",
            "park": "",
            "industry": INDUSTRIES[i % len(INDUSTRIES)],
            "project_type": "一般项目",
            "origin": ("省外", "境外", "省内")[i % 3],
            "planned_investment": 5000 + i % 20000,
            "referred_on": referred.isoformat(),
            "signed_on": signed.strftime("%Y/%-m/%-d"),
            "contract_amount": 3000.5 + i % 1000,
            "arrived_on": f"{signed.year}年{signed.month}月{signed.day}日",
            "arrival_amount": 1200.25,
            "production_started_on": signed + timedelta(days=90),
        }
        sheet.append([values[name] for name in TEMPLATE_HEADERS])
    sheet.append(["合计"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_rows(url: str, rows: int = 5000) -> dict[str, Any]:
    """Import a generated ledger of `rows` rows into the database at `url`: {rows, seconds,
    rows_per_s, cpu_seconds, rows_per_cpu_s, events, target_rows_per_s}."""
    services = bootstrap(Settings(database_url=url, background_services=False))
    try:
        ledger = services.ledger
        tag = f"B{os.getpid()}"
        name = f"基准测试湖南商会{tag}"
        ledger.register_association(
            ledger.context(Actor("bench", "admin")),
            name=name,
            kind="domestic_chamber",
            based_in="深圳",
            occurred_on="2021-01-01",
        )
        services.runner.run_once()  # associations are found by name in the read models
        data = ledger_workbook(rows, name, tag)
        before = ledger.recorder.max_notification_id() or 0
        started, cpu = time.perf_counter(), time.process_time()
        report = services.imports.run(
            ImportRequest(data, f"{tag}.xlsx", Actor("bench", "staff"), dry_run=False)
        )
        elapsed = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        assert report.status == "recorded", report.problem_lines()[:3]
        events = (ledger.recorder.max_notification_id() or 0) - before
        return {
            "rows": report.rows_recorded,
            "events": events,
            "file_kib": len(data) // 1024,
            "seconds": elapsed,
            "rows_per_s": report.rows_recorded / elapsed,
            # CPU time of this process: what the figure would be on an idle machine (the
            # benchmark shares its two cores with whatever else runs).
            "cpu_seconds": cpu_seconds,
            "rows_per_cpu_s": report.rows_recorded / cpu_seconds,
            "target_rows_per_s": TARGET_ROWS_PER_S,
        }
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args(argv)
    from bench.__main__ import _drop_database, _fresh_url

    with tempfile.TemporaryDirectory() as tmp:
        url = _fresh_url(args.db, Path(tmp))
        try:
            figures = import_rows(url, args.rows)
        finally:
            if args.db != "sqlite":
                _drop_database(url)
        print(
            ", ".join(
                f"{k}={v:,.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
