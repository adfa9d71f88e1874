"""Ledger imports recorded (DESIGN §19) on an SQLite file and on PostgreSQL: one atomic save
or nothing, fine rows only on request, batches recorded once, projects never twice, the
history naming the batch, a liaison kept to its own association, formulas read as values."""

from __future__ import annotations

import functools
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from domain.application import Ledger
from domain.events import Actor
from domain.import_batch import project_id_for_number
from services.bootstrap import Services
from services.imports import ImportReport, ImportRequest
from tests import factories
from tests.conftest import STAFF, services_for
from tests.imports_support import HEADERS, row, with_cached_values, workbook


@pytest.fixture
def services(ledger: Ledger, database_url: str, tmp_path: Path) -> Services:
    found = services_for(ledger, database_url, files_dir=str(tmp_path / "files"))
    factories.association(ledger, "北京湖南商会")
    found.runner.run_once()
    return found


def run(
    services: Services,
    data: bytes,
    *,
    dry_run: bool = False,
    fine_rows_only: bool = False,
    actor: Actor = STAFF,
    scope: str | None = None,
    name: str = "台账.xlsx",
) -> ImportReport:
    return services.imports.run(
        ImportRequest(
            data,
            name,
            actor,
            association_scope=scope,
            dry_run=dry_run,
            fine_rows_only=fine_rows_only,
        )
    )


def events_count(ledger: Ledger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def test_a_ledger_is_recorded_once_with_its_batch_and_the_history_names_it(
    ledger: Ledger, services: Services
) -> None:
    data = workbook(
        [
            row(1),
            row(
                2,
                **{
                    "签约日期": None,
                    "签约金额": None,
                    "到位日期": None,
                    "到位资金": None,
                    "投产日期": None,
                },
            ),
        ]
    )
    preview = run(services, data, dry_run=True)
    assert preview.status == "preview" and preview.count("fine") == 2
    before = events_count(ledger)
    assert events_count(ledger) == before  # a preview records nothing

    report = run(services, data)
    assert report.status == "recorded" and report.rows_recorded == 2
    project = ledger.get_project(report.rows[0].project_id or "")
    assert project.id == project_id_for_number("XM-00001")
    assert project.name == "智能装备基地1" and project.city == "zhuzhou" and project.industry == "C"
    assert project.origin == "other_province" and project.project_type == "ordinary"
    assert project.planned_investment == Decimal("80000000.00")
    assert project.contract_amount == Decimal("50000000.00")
    assert project.funds_total_cny == Decimal("12000000.50")
    assert str(project.production_started_on) == "2023-09-01"
    history = ledger.history(project.id)
    assert [h.type for h in history] == [
        "referred",
        "signed",
        "funds_arrived",
        "production_started",
    ]
    assert {h.source for h in history} == {f"import:{report.batch_id}"}
    assert history[0].actor == {"id": STAFF.id, "role": STAFF.role}
    assert history[0].evidence == ["项目编号 XM-00001"]
    second = ledger.get_project(report.rows[1].project_id or "")
    assert second.stage == "referred"

    batches = services.imports.batches()
    assert len(batches) == 1
    assert batches[0]["batch_id"] == report.batch_id
    assert batches[0]["by"] == STAFF.id and batches[0]["rows_recorded"] == 2
    assert batches[0]["file_sha256"] == report.file_sha256

    recorded = events_count(ledger)
    again = run(services, data)
    assert again.status == "already_imported" and again.batch is not None
    assert again.batch["rows_recorded"] == 2
    assert events_count(ledger) == recorded


def test_one_bad_row_records_nothing_then_fine_rows_only_records_the_others(
    ledger: Ledger, services: Services
) -> None:
    data = workbook([row(1), row(2, **{"引荐日期": "2023-02-30"}), row(3, **{"落地市州": "广州"})])
    before = events_count(ledger)
    report = run(services, data)
    assert report.status == "not_recorded"
    assert events_count(ledger) == before
    problems = {r.row: r.problems for r in report.rows if r.status == "problem"}
    assert set(problems) == {3, 4}
    assert problems[3][0].column == "引荐日期" and problems[3][0].value == "2023-02-30"
    assert problems[4][0].column == "落地市州" and problems[4][0].code == "validation_error"
    assert "广州" in problems[4][0].message

    fine = run(services, data, fine_rows_only=True)
    assert fine.status == "recorded" and fine.rows_recorded == 1
    assert events_count(ledger) > before
    assert services.imports.batches()[0]["rows_refused"] == 2


def test_a_domain_refusal_names_its_column(ledger: Ledger, services: Services) -> None:
    # funds before the signing, production before it, a referral in the future
    data = workbook(
        [
            row(1, **{"到位日期": "2023-05-30"}),
            row(2, **{"签约日期": None, "签约金额": None, "到位日期": None, "到位资金": None}),
            row(3, **{"引荐日期": "2031-01-01"}),
            row(4, **{"签约金额": None}),
        ]
    )
    report = run(services, data, dry_run=True)
    columns = {r.row: (r.problems[0].column, r.problems[0].code) for r in report.rows}
    assert columns == {
        2: ("到位日期", "stage_order"),
        3: ("投产日期", "stage_order"),
        4: ("引荐日期", "date_in_future"),
        5: ("签约金额", "validation_error"),
    }


def test_rows_matching_recorded_projects_are_reported_not_recorded_twice(
    ledger: Ledger, services: Services
) -> None:
    first = run(services, workbook([row(1)]))
    services.runner.run_once()
    existing = factories.project(
        ledger,
        services.read_models.associations()[0]["association_id"],
        name="已有项目",
        investor="已有投资方",
        city="changsha",
    )
    services.runner.run_once()
    data = workbook(
        [
            row(1, **{"项目名称": "改了名字"}),  # the same 项目编号
            row(
                2,
                **{
                    "项目编号": None,
                    "项目名称": "已有项目",
                    "投资方": "已有投资方",
                    "落地市州": "长沙",
                },
            ),
            row(3),
            row(3, **{"项目编号": "XM-99999"}),  # the same name, investor and city as the row above
        ]
    )
    report = run(services, data)
    statuses = {r.row: (r.status, r.project_id) for r in report.rows}
    assert statuses[2] == ("duplicate", first.rows[0].project_id)
    assert statuses[3] == ("duplicate", str(existing))
    assert statuses[4][0] == "fine"
    assert statuses[5][0] == "duplicate"
    assert report.status == "recorded" and report.rows_recorded == 1


def test_associations_are_found_by_name_and_unknown_or_ambiguous_names_list_candidates(
    ledger: Ledger, services: Services
) -> None:
    from tests.conftest import STAFF as staff

    ledger.register_association(
        ledger.context(staff),
        name="湖南校友会",
        kind="alumni",
        based_in="北京",
        occurred_on="2022-01-01",
    )
    ledger.register_association(
        ledger.context(staff),
        name="湖南校友会",
        kind="alumni",
        based_in="上海",
        occurred_on="2022-01-01",
    )
    services.runner.run_once()
    data = workbook(
        [
            row(1, association="湖南校友会"),
            row(2, association="湖南校友会（上海）"),
            row(3, association="北京湖南商会 "),
            row(4, association="北京湖南"),
        ]
    )
    report = run(services, data, dry_run=True)
    by_row = {r.row: r for r in report.rows}
    assert by_row[2].status == "problem" and by_row[2].problems[0].code == "unknown_association"
    assert "湖南校友会（北京）" in by_row[2].problems[0].message
    assert "湖南校友会（上海）" in by_row[2].problems[0].message
    assert by_row[3].status == "fine" and by_row[4].status == "fine"
    assert by_row[5].status == "problem" and "北京湖南商会" in by_row[5].problems[0].message


def test_a_liaison_imports_only_its_own_association_s_rows(
    ledger: Ledger, services: Services
) -> None:
    own = services.read_models.associations()[0]["association_id"]
    factories.association(ledger, "上海湖南商会")
    services.runner.run_once()
    data = workbook([row(1), row(2, association="上海湖南商会")])
    liaison = Actor("liaison-1", "liaison")
    refused = run(services, data, actor=liaison, scope=own)
    assert refused.status == "not_recorded"
    problem = next(r for r in refused.rows if r.status == "problem")
    assert problem.row == 3 and problem.problems[0].code == "not_own_association"
    recorded = run(services, data, actor=liaison, scope=own, fine_rows_only=True)
    assert recorded.rows_recorded == 1
    project = ledger.get_project(recorded.rows[0].project_id or "")
    assert project.association_ids() == [own]


def test_totals_rows_are_skipped_and_a_gb18030_csv_is_recorded(
    ledger: Ledger, services: Services
) -> None:
    lines = [",".join(HEADERS)] + [",".join(str(v) for v in row(i)) for i in (1, 2)]
    lines.append("合计,,,,,,,,160000000,,,,,,")
    data = ("\n".join(lines) + "\n").encode("gb18030")
    report = run(services, data, name="台账.csv")
    assert [r.status for r in report.rows] == ["fine", "fine", "skipped"]
    assert report.status == "recorded" and report.rows_recorded == 2


@functools.cache
def ten_thousand_rows_with_formulas() -> bytes:
    """10,000 referrals whose amounts and labels are formulas, saved with their values as
    Excel saves them (one workbook for both databases)."""
    rows = [
        row(
            i,
            **{
                "项目编号": None,
                "计划总投资": "=4000*20000",
                "项目类型": '=IF(1,"一般项目","")',
                "签约日期": None,
                "签约金额": None,
                "到位日期": None,
                "到位资金": None,
                "投产日期": None,
            },
        )
        for i in range(10_000)
    ]
    return with_cached_values(
        workbook(rows), {"4000*20000": "80000000", 'IF(1,"一般项目","")': "一般项目"}
    )


def test_ten_thousand_rows_with_formulas_read_their_saved_values(
    ledger: Ledger, services: Services
) -> None:
    data = ten_thousand_rows_with_formulas()
    with zipfile.ZipFile(io.BytesIO(data)) as book:  # the formulas are in the file
        assert book.read("xl/worksheets/sheet1.xml").count(b"<f>") == 20_000
    report = run(services, data, name="公式.xlsx")
    assert report.status == "recorded", report.problem_lines()[:3]
    assert report.rows_recorded == 10_000
    project = ledger.get_project(report.rows[-1].project_id or "")
    assert project.planned_investment == Decimal("80000000.00")
    assert project.project_type == "ordinary"


def test_a_formula_without_a_saved_value_is_not_evaluated(
    ledger: Ledger, services: Services
) -> None:
    data = workbook([row(1, **{"计划总投资": "=4000*20000"})])
    report = run(services, data, dry_run=True)
    problem = report.rows[0].problems[0]
    assert report.rows[0].status == "problem" and problem.column == "计划总投资"


def test_the_command_line_prints_each_problem_and_exits_1_then_0(
    ledger: Ledger,
    services: Services,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli.main import main

    monkeypatch.setenv("ZHAOSHANG_DATABASE_URL", database_url)
    monkeypatch.setenv("ZHAOSHANG_FILES_DIR", str(tmp_path / "files"))
    path = tmp_path / "台账.xlsx"
    path.write_bytes(workbook([row(1), row(2, **{"行业": "造船"}), ["小计"]]))
    before = events_count(ledger)

    assert main(["import", "ledger", str(path), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "row 3: 行业: " in out and "preview" in out
    assert main(["import", "ledger", str(path)]) == 1
    assert "not_recorded" in capsys.readouterr().out
    assert events_count(ledger) == before

    assert main(["import", "ledger", str(path), "--fine-rows-only"]) == 1
    assert "1 recorded" in capsys.readouterr().out
    assert main(["import", "ledger", str(path), "--fine-rows-only"]) == 0
    assert "already imported" in capsys.readouterr().out
    fine = tmp_path / "fine.csv"
    fine.write_text(
        ",".join(HEADERS) + "\n" + ",".join(str(v) for v in row(7)) + "\n", encoding="utf-8-sig"
    )
    assert main(["import", "ledger", str(fine)]) == 0
    assert "recorded: batch" in capsys.readouterr().out
    assert main(["import", "ledger", str(tmp_path / "missing.xlsx")]) == 2
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.7\n\x00")
    assert main(["import", "ledger", str(tmp_path / "x.pdf")]) == 2
    assert "unsupported_media_type" in capsys.readouterr().err
