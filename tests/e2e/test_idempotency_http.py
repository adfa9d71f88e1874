"""`Idempotency-Key` over HTTP (DESIGN §21, issue 13 item 6), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from tests.e2e.conftest import Api


def visit(api: Api, project_id: str, key: str | None, notes: str = "首次走访") -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return api.post(
        f"/projects/{project_id}/visits",
        {"occurred_on": "2024-02-02", "notes": notes},
        role="officer",
        headers=headers,
    )


def visits(api: Api, project_id: str) -> list[dict[str, Any]]:
    history = api.get(f"/projects/{project_id}/history", role="auditor").json()
    return [h for h in history if h["type"] == "visit_recorded"]


def test_a_repeat_gets_the_first_answer_and_records_nothing(api: Api) -> None:
    project_id = api.project()
    first = visit(api, project_id, "visit-2024-02-02")
    again = visit(api, project_id, "visit-2024-02-02")
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(visits(api, project_id)) == 1


def test_the_same_key_with_another_body_is_422_and_stores_nothing(api: Api) -> None:
    project_id = api.project()
    assert visit(api, project_id, "k1").status_code == 201
    r = visit(api, project_id, "k1", notes="另一次")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert r.json()["error"]["field"] == "Idempotency-Key"
    assert [v["data"].get("notes") for v in visits(api, project_id)] == ["首次走访"]


def test_keys_are_scoped_to_user_and_path(api: Api) -> None:
    project_id = api.project()
    other = api.project()
    assert visit(api, project_id, "shared").status_code == 201
    assert visit(api, other, "shared").status_code == 201  # another path
    r = api.post(
        f"/projects/{project_id}/visits",
        {"occurred_on": "2024-02-02", "notes": "首次走访"},
        role="staff",  # another user
        headers={"Idempotency-Key": "shared"},
    )
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert len(visits(api, project_id)) == 2 and len(visits(api, other)) == 1


def test_a_refused_write_keeps_its_key_free(api: Api) -> None:
    project_id = api.project()
    body = {"occurred_on": "2099-01-01"}
    headers = {"Idempotency-Key": "future"}
    r = api.post(f"/projects/{project_id}/visits", body, role="officer", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "date_in_future"
    assert visits(api, project_id) == []
    body["occurred_on"] = "2024-01-01"
    r = api.post(f"/projects/{project_id}/visits", body, role="officer", headers=headers)
    assert r.status_code == 201, r.text


def test_creation_replays_the_same_id_and_location(api: Api) -> None:
    body = {"name": "上海湖南商会", "kind": "domestic_chamber", "based_in": "上海"}
    headers = {"Idempotency-Key": "assoc-1"}
    first = api.post("/associations", {**body, "occurred_on": "2022-01-01"}, headers=headers)
    again = api.post("/associations", {"occurred_on": "2022-01-01", **body}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("location") == first.headers.get("location")
    names = [a["name"] for a in api.get("/associations").json()["items"]]
    assert names.count("上海湖南商会") == 1


def test_a_bad_key_is_422(api: Api) -> None:
    project_id = api.project()
    r = visit(api, project_id, "x" * 201)
    assert r.status_code == 422 and r.json()["error"]["field"] == "Idempotency-Key"
    assert visits(api, project_id) == []


def test_concurrent_duplicates_record_once(api: Api) -> None:
    project_id = api.project()
    token = api.token("officer")
    answers: list[Any] = []

    def send() -> None:
        answers.append(
            api.client.post(
                f"/projects/{project_id}/visits",
                json={"occurred_on": "2024-02-02", "notes": "并发"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race"},
            )
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["version"] for a in answers}) == 1
    assert len(visits(api, project_id)) == 1


def test_every_post_documents_the_header(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    posts = [(p, ops["post"]) for p, ops in schema["paths"].items() if "post" in ops]
    assert len(posts) >= 20
    for path, post in posts:
        names = [p["name"] for p in post.get("parameters", [])]
        assert "Idempotency-Key" in names, path


def test_a_keyed_settlement_is_frozen_once_and_replayed(api: Api) -> None:
    """The settlement's document is written in the request's own transaction: the answer is
    described from it, not read back through another connection."""
    headers = {"Idempotency-Key": "settle-2024"}
    body = {"policy": "hunan-2022", "year": 2024}
    first = api.post("/settlements", body, role="staff", headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["document_intact"] is True and first.json()["revision"] == 0
    again = api.post("/settlements", body, role="staff", headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert api.get("/settlements/hunan-2022/2024").json()["revision"] == 0  # frozen once
