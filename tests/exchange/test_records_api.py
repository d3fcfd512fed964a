"""Records API: POST /api/v1/exchange/resources/{code}/records (JSON, NDJSON, CSV) and the batch
history, with the error envelope and authorization."""

from __future__ import annotations

import json

import pytest

from tests.exchange.factories import id_number, official, person_resource, person_row, steward, system_token
from tests.exchange.test_records_io import CHINESE, csv_bytes
from tongban.exchange.models import Batch, Record
from tongban.identity import tokens
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def user_token(actor) -> str:
    return tokens.issue_user_token(User.objects.get(username=actor.username)).key


def post(client, code, body, token, content_type="application/json"):
    data = json.dumps(body, ensure_ascii=False) if content_type == "application/json" else body
    return client.post(f"/api/v1/exchange/resources/{code}/records", data=data, content_type=content_type,
                       HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def resource():
    return person_resource("civil")


def test_json_batch_201_and_history(client, resource):
    token = user_token(steward("civil"))
    response = post(client, resource.code, {"records": [person_row(1), person_row(2)]}, token)
    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get()
    assert body == {"batch": batch.pk, "rows": 2, "inserted": 2, "updated": 0, "unchanged": 0,
                    "sha256": batch.sha256, "first_seq": 1, "last_seq": 2}
    again = post(client, resource.code, {"records": [person_row(1), person_row(2, sex="2")]}, token).json()
    assert (again["inserted"], again["updated"], again["unchanged"], again["first_seq"]) == (0, 1, 1, 3)

    history = client.get(f"/api/v1/exchange/resources/{resource.code}/batches",
                         HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert history["count"] == 2
    assert [b["id"] for b in history["items"]] == [again["batch"], body["batch"]]
    assert history["items"][1]["sha256"] == body["sha256"] and history["items"][0]["channel"] == "api"
    outsider = client.get(f"/api/v1/exchange/resources/{resource.code}/batches",
                          HTTP_AUTHORIZATION=f"Bearer {user_token(steward('health'))}")
    assert outsider.status_code == 404
    bureau = official("bureau", "bureau_admin", is_bureau=True)
    assert client.get(f"/api/v1/exchange/resources/{resource.code}/batches",
                      HTTP_AUTHORIZATION=f"Bearer {user_token(bureau)}").json()["count"] == 2


def test_bad_rows_answer_422_in_the_envelope_and_nothing_is_stored(client, resource):
    token = user_token(steward("civil"))
    rows = [person_row(1), person_row(2, marital_status="99"), "x", person_row(4, phone="123")]
    response = post(client, resource.code, {"records": rows}, token)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_records" and "3" in error["message"]
    assert [(e["row"], e["item"], e["code"]) for e in error["details"]["errors"]] == [
        (2, "marital_status", "code_not_in_list"), (3, None, "row_not_object"), (4, "phone", "invalid_phone")]
    assert error["details"]["error_count"] == 3 and error["details"]["truncated"] is False
    assert Record.objects.count() == Batch.objects.count() == 0

    empty = post(client, resource.code, {"records": []}, token)
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "empty_batch")
    for body, code in ((["not", "an", "object"], "invalid_body"), ({"rows": []}, "invalid_body")):
        response = post(client, resource.code, body, token)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code)
    broken = post(client, resource.code, "{not json", token, content_type="application/json")
    assert broken.status_code == 422


def test_who_may_load_over_the_api(client, resource):
    body = {"records": [person_row(1)]}
    other = post(client, resource.code, body, user_token(steward("health")))
    assert (other.status_code, other.json()["error"]["code"]) == (403, "permission_denied")
    no_scope = post(client, resource.code, body, system_token("civil", "exchange:query"))
    assert (no_scope.status_code, no_scope.json()["error"]["details"]) == (403, {"required_scope":
                                                                                  "exchange:records:write"})
    wrong_role = post(client, resource.code, body, user_token(official("civil", "approver")))
    assert wrong_role.status_code == 403
    anonymous = client.post(f"/api/v1/exchange/resources/{resource.code}/records", data=json.dumps(body),
                            content_type="application/json")
    assert anonymous.status_code == 401
    assert post(client, "civil-99999", body, user_token(steward("civil"))).status_code == 404
    assert Batch.objects.count() == 0
    system = post(client, resource.code, body, system_token("civil", "exchange:records:write"))
    assert system.status_code == 201, system.content
    assert Batch.objects.get().loaded_by.startswith("system:")


def test_streamed_ndjson_and_csv_bypass_the_json_body_limit(client, resource, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    token = user_token(steward("civil"))
    rows = [person_row(n) for n in range(1, 41)]
    assert len(json.dumps({"records": rows})) > 2000
    too_big = post(client, resource.code, {"records": rows}, token)
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "payload_too_large")

    ndjson = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
    response = post(client, resource.code, ndjson, token, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content
    assert response.json()["inserted"] == 40

    changed = [person_row(n, sex="2") if n <= 5 else person_row(n) for n in range(1, 51)]
    response = post(client, resource.code, csv_bytes(CHINESE, changed, encoding="gb18030"), token,
                    content_type="text/csv")
    assert response.status_code == 201, response.content
    assert {k: response.json()[k] for k in ("rows", "inserted", "updated", "unchanged")} == {
        "rows": 50, "inserted": 10, "updated": 5, "unchanged": 35}
    assert Record.objects.get(subject=id_number(3)).data["sex"] == "2"

    bad = ndjson + b"\n{oops\n"
    response = post(client, resource.code, bad, token, content_type="application/x-ndjson")
    assert response.status_code == 422
    assert response.json()["error"]["details"]["errors"][0]["row"] == 41
    unknown = post(client, resource.code, "备注,姓名\n1,2\n".encode(), token, content_type="text/csv")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_column")
    xml = post(client, resource.code, b"<records/>", token, content_type="application/xml")
    assert (xml.status_code, xml.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert Batch.objects.count() == 2


def test_streamed_upload_is_authorized_before_it_is_read(client, resource):
    response = post(client, resource.code, b"\xff\xfe garbage", user_token(steward("health")),
                    content_type="text/csv")
    assert response.status_code == 403


def test_the_operation_documents_every_body_type(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/exchange/resources/{code}/records"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/x-ndjson", "text/csv"}
    assert "201" in operation["responses"]
