"""`GET /rewards/{year}` by page (DESIGN §12a, issue 23): page, size, association_id, status,
explain, lang; without `page` every association, as before."""

from __future__ import annotations

from tests.e2e.conftest import Api
from tests.e2e.test_rewards_http import error, rewarded_year


def test_pages_filters_and_explanations(api: Api) -> None:
    ids = rewarded_year(api)
    whole = api.get("/rewards/2023", role="auditor").json()
    assert set(whole) == {"year", "policy", "associations"}  # no page: as §12
    assert len(whole["associations"]) == 2

    first = api.get("/rewards/2023", params={"page": 1, "size": 1}, role="auditor").json()
    second = api.get("/rewards/2023", params={"page": 2, "size": 1}, role="auditor").json()
    beyond = api.get("/rewards/2023", params={"page": 3, "size": 1}, role="auditor").json()
    assert (first["total"], first["page"], first["size"]) == (2, 1, 1)
    assert first["associations"] + second["associations"] == whole["associations"]
    assert beyond["associations"] == [] and beyond["total"] == 2

    one = api.get("/rewards/2023", params={"association_id": ids["Y"]}, role="auditor").json()
    assert [a["association_id"] for a in one["associations"]] == [ids["Y"]]

    below = api.get("/rewards/2023", params={"status": "below_threshold"}, role="auditor").json()
    rows = [p for a in below["associations"] for p in a["projects"]]
    assert rows and {p["status"] for p in rows} == {"below_threshold"}
    assert ids["P"] not in {p["project_id"] for p in rows}

    bare = api.get("/rewards/2023", params={"explain": "false"}, role="auditor").json()
    assert all("explanation" not in p for a in bare["associations"] for p in a["projects"])
    assert [
        {k: v for k, v in p.items() if k != "explanation"}
        for a in whole["associations"]
        for p in a["projects"]
    ] == [p for a in bare["associations"] for p in a["projects"]]

    zh = api.get("/rewards/2023", params={"lang": "zh"}, role="auditor").json()
    steps = [s for a in zh["associations"] for p in a["projects"] for s in p["explanation"]]
    assert steps and all("text_zh" in s and "text_en" not in s for s in steps)


def test_bad_page_parameters_are_refused(sqlite_api: Api) -> None:
    rewarded_year(sqlite_api)
    for params in (
        {"page": 0},
        {"size": 501},
        {"lang": "fr"},
        {"status": "Eligible; DROP"},
        {"explain": "maybe"},
    ):
        r = sqlite_api.get("/rewards/2023", params=params, role="auditor")
        body = error(r, 422, "validation_error")
        assert body["field"] in set(params), (params, body)


def test_a_page_after_a_new_event_shows_it(sqlite_api: Api) -> None:
    ids = rewarded_year(sqlite_api)

    def funds_of_p() -> str:
        body = sqlite_api.get(
            "/rewards/2023", params={"page": 1, "association_id": ids["X"]}, role="auditor"
        ).json()
        rows = body["associations"][0]["projects"]
        return str(next(p["funds_in_year"] for p in rows if p["project_id"] == ids["P"]))

    assert funds_of_p() == "25000000.00"
    r = sqlite_api.post(
        f"/projects/{ids['P']}/funds",
        {"occurred_on": "2023-08-01", "amount": "5000000.00", "currency": "CNY"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    assert funds_of_p() == "30000000.00"  # not the report evaluated before the arrival


def test_the_figures_say_the_position_they_are_of(sqlite_api: Api) -> None:
    ids = rewarded_year(sqlite_api)
    first = sqlite_api.get("/rewards/2023", params={"page": 1}, role="auditor")
    position = int(first.headers["X-Read-Models-Position"])
    assert position > 0
    r = sqlite_api.post(
        f"/projects/{ids['P']}/funds",
        {"occurred_on": "2023-08-01", "amount": "5000000.00", "currency": "CNY"},
        role="officer",
    )
    assert r.status_code == 201, r.text
    later = sqlite_api.get("/rewards/2023", params={"format": "csv"}, role="auditor")
    assert int(later.headers["X-Read-Models-Position"]) > position  # the arrival is in
    page = sqlite_api.get("/app/rewards/2023", role="auditor")
    assert page.status_code == 200
    assert f"截至第 {later.headers['X-Read-Models-Position']} 条事件" in page.text
