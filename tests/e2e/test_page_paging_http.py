"""Paging of the long tables on the pages, over HTTP (issue 20: page server time at province
scale): a dispatch page shows its progress list 50 rows a page with the total and prev/next
links, page 2 holds the next rows and none of the first page's, and the download keeps them all.
"""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from tests.e2e.conftest import Api, project_read_models

PROJECTS = 53  # one page of 50 and a second of 3


def _progress_names(html: str) -> list[str]:
    """The project names of the progress table (the section whose anchor is `progress`)."""
    section = html.split('<section id="progress">', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<a href="/app/projects/[^"]+">([^<]+)</a>', section)


def _pager(html: str, table: str) -> str:
    section = html.split(f'<section id="{table}">', 1)[1].split("</section>", 1)[0]
    found = re.search(r'<nav class="pager[^>]*>(.*?)</nav>', section, re.S)
    return found.group(1) if found else ""


def test_a_dispatch_pages_its_progress_list_and_the_download_keeps_every_row(
    sqlite_api: Api,
) -> None:
    api = sqlite_api
    association = api.association()
    for n in range(PROJECTS):
        project = api.project(association, name=f"分页项目{n:03d}", occurred_on="2023-11-02")
        visit = {"occurred_on": "2023-11-20"}  # progress in the quarter: on the list
        assert api.post(f"/projects/{project}/visits", visit, role="officer").status_code == 201
    api.at("2024-01-20")
    project_read_models(api)
    made = api.app.state.services.background().catch_up(api.clock[0])
    assert "2023Q4" in [d.period for d in made if d.kind == "dispatch"]

    first = api.get("/app/dispatches/2023Q4", role="staff")
    assert first.status_code == 200, first.text
    assert f"项目进展（{PROJECTS}）" in first.text  # the table's total, not the page's
    on_first = _progress_names(first.text)
    assert len(on_first) == 50
    pager = _pager(first.text, "progress")
    assert f"第 1–50 项，共 {PROJECTS} 项" in pager and "第 1 / 2 页" in pager
    assert 'rel="prev"' not in pager
    next_link = re.search(r'href="([^"]+)" rel="next"', pager)
    assert next_link is not None
    assert next_link.group(1) == "/app/dispatches/2023Q4?progress_page=2#progress"

    second = api.get("/app/dispatches/2023Q4?progress_page=2", role="staff")
    assert second.status_code == 200, second.text
    on_second = _progress_names(second.text)
    assert len(on_second) == PROJECTS - 50
    assert not set(on_first) & set(on_second)  # the next rows, not the first page's again
    assert set(on_first) | set(on_second) == {f"分页项目{n:03d}" for n in range(PROJECTS)}
    pager = _pager(second.text, "progress")
    assert f"第 51–{PROJECTS} 项，共 {PROJECTS} 项" in pager and 'rel="next"' not in pager
    assert 'href="/app/dispatches/2023Q4?progress_page=1#progress" rel="prev"' in pager
    # The summary tables stay whole on every page, and a page past the end shows the last.
    assert "全省" in second.text and "各市州" in second.text
    beyond = api.get("/app/dispatches/2023Q4?progress_page=9", role="staff").text
    assert _progress_names(beyond) == on_second
    # The other tables keep their own pages: one association, no pager of its own.
    assert _pager(first.text, "associations") == ""

    # The charts' data: the quarter's funnel, and the trend drawn from each quarter's latest
    # dispatch (read once per dispatch), the same when asked again.
    charts = api.get("/app/dispatches/2023Q4/charts.json", role="staff").json()
    assert charts["funnel"]["values"][:2] == [PROJECTS, PROJECTS]  # referred, visited
    assert charts["by_quarter"]["labels"][-1] == "2023Q4"
    assert charts["by_quarter"]["signings"][-1] == 0
    again = api.get("/app/dispatches/2023Q4/charts.json", role="staff").json()
    assert again == charts

    download = api.get("/dispatches/2023Q4?format=xlsx", role="staff")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.content))["项目进展"]
    names = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {f"分页项目{n:03d}" for n in range(PROJECTS)}


def test_a_page_number_that_is_not_a_number_is_refused(sqlite_api: Api) -> None:
    api = sqlite_api
    api.project(occurred_on="2023-11-02")
    api.at("2024-01-20")
    project_read_models(api)
    api.app.state.services.background().catch_up(api.clock[0])
    r = api.get("/app/dispatches/2023Q4?progress_page=two", role="staff")
    assert r.status_code == 422


def test_the_associations_list_pages_fifty_at_a_time_with_the_total(sqlite_api: Api) -> None:
    api = sqlite_api
    ids = {api.association(f"分页商会{n:03d}") for n in range(PROJECTS)}
    project_read_models(api)

    first = api.get("/app/associations", role="staff")
    assert first.status_code == 200, first.text
    assert f"商协会（{PROJECTS}）" in first.text
    on_first = set(re.findall(r'<a href="/app/associations/([0-9a-f-]{36})">', first.text))
    assert len(on_first) == 50
    assert 'href="/app/associations?page=2" rel="next"' in first.text

    second = api.get("/app/associations?page=2", role="staff").text
    on_second = set(re.findall(r'<a href="/app/associations/([0-9a-f-]{36})">', second))
    assert len(on_second) == PROJECTS - 50 and not on_first & on_second
    assert on_first | on_second == ids
    assert f"第 51–{PROJECTS} 项，共 {PROJECTS} 项" in second
    assert 'href="/app/associations?page=1" rel="prev"' in second
