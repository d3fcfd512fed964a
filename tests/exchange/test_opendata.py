"""Open data: records of 无条件开放 resources for anyone, as CSV (BOM, Chinese header, formulas made
inert) and JSON, streamed in chunks; personal-sensitive items and ID numbers never included;
conditional, closed and unknown resources not found."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from tests.exchange import factories_mydata as mine
from tests.exchange.factories import enterprise_resource, enterprise_row, person_resource, person_row, uscc
from tongban.exchange.services import opendata

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def _csv_rows(response) -> list[list[str]]:
    text = _body(response).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def firms():
    resource = enterprise_resource("market", opening="open")
    mine.records(resource, [enterprise_row(n) for n in range(1, 4)])
    return resource


def test_csv_of_an_open_resource_without_personal_sensitive_items(client, firms):
    response = client.get(f"/open-data/{firms.code}/records.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="{firms.code}.csv"' in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == ["统一社会信用代码", "单位名称", "注册资本"]  # 法定代表人 is personal-sensitive
    assert rows[1:] == sorted([[uscc(n), f"杭州测试{n}号科技有限公司", "100.5"] for n in range(1, 4)])
    assert "李四" not in _body(client.get(f"/open-data/{firms.code}/records.csv")).decode()


def test_json_download_is_valid_and_has_the_same_columns(client, firms):
    response = client.get(f"/open-data/{firms.code}/records.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = json.loads(_body(response))
    assert body["resource"]["code"] == firms.code
    assert [c["key"] for c in body["columns"]] == ["uscc", "org_name", "registered_capital"]
    assert len(body["records"]) == 3
    assert all(set(r) == {"uscc", "org_name", "registered_capital"} for r in body["records"])


def test_person_resource_never_shows_id_numbers_or_personal_items(client):
    resource = person_resource("civil", sharing="open_share", opening="open", sharing_conditions="")
    row = person_row(7)
    mine.records(resource, [row])
    csv_rows = _csv_rows(client.get(f"/open-data/{resource.code}/records.csv"))
    assert csv_rows[0] == ["性别", "婚姻状况", "登记日期"]
    payload = client.get(f"/api/v1/open-data/resources/{resource.code}/records").json()
    downloads = (_body(client.get(f"/open-data/{resource.code}/records.json")).decode()
                 + json.dumps(payload, ensure_ascii=False) + json.dumps(csv_rows, ensure_ascii=False))
    for secret in (row["id_number"], row["name"], row["phone"], row["address"]):
        assert secret not in downloads
    assert payload["items"] == [{"sex": "1", "marital_status": "20", "registered_on": "2020-05-20"}]


@pytest.mark.parametrize("opening", ["conditional", "closed"])
def test_not_unconditionally_open_is_not_found(client, opening):
    resource = enterprise_resource("market", opening=opening)
    mine.records(resource, [enterprise_row(1)])
    for path in (f"/open-data/{resource.code}/records.csv", f"/open-data/{resource.code}/records.json",
                 f"/api/v1/open-data/resources/{resource.code}/records"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"100.5" not in response.content
    listed = client.get("/api/v1/open-data/resources").json()
    assert resource.code not in [r["code"] for r in listed["items"]]


def test_unknown_code_is_not_found(client):
    assert client.get("/open-data/nope-00001/records.csv").status_code == 404
    response = client.get("/api/v1/open-data/resources/nope-00001/records")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_open_data"


def test_formula_cells_are_neutralised(client):
    resource = enterprise_resource("market", opening="open")
    names = ["=HYPERLINK(\"http://evil\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", " =1+1", "正常企业"]
    mine.records(resource, [enterprise_row(n, org_name=name, registered_capital="-12.5" if n == 0 else "7")
                            for n, name in enumerate(names)])
    cells = {row[1]: row[2] for row in _csv_rows(client.get(f"/open-data/{resource.code}/records.csv"))[1:]}
    assert set(cells) == {"'=HYPERLINK(\"http://evil\")", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1)", "'\t=1",
                          "' =1+1", "正常企业"}
    assert cells["'=HYPERLINK(\"http://evil\")"] == "-12.5"  # a plain number stays a number


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("+1", "+1"), ("-7", "-7"), ("-0.5", "-0.5"), ("-", "'-"), ("@x", "'@x"), ("\rx", "'\rx"),
    ("a=b", "a=b"), (True, "true"), (None, ""), (12, "12"),
])
def test_csv_cell(value, cell):
    assert opendata.csv_cell(value) == cell


def test_json_paging(client, firms):
    mine.records(firms, [enterprise_row(n) for n in range(10, 32)])  # 25 in all
    page = client.get(f"/api/v1/open-data/resources/{firms.code}/records?page=3&page_size=10").json()
    assert page["count"] == 25 and page["page"] == 3 and page["page_size"] == 10
    assert len(page["items"]) == 5
    everything = [r["uscc"] for p in (1, 2, 3) for r in client.get(
        f"/api/v1/open-data/resources/{firms.code}/records?page={p}&page_size=10").json()["items"]]
    assert len(everything) == len(set(everything)) == 25
    for bad in ("page=0", "page_size=0", "page_size=1001"):
        assert client.get(f"/api/v1/open-data/resources/{firms.code}/records?{bad}").status_code == 422, bad


def test_open_resources_list_with_counts(client, firms):
    person_resource("civil", opening="closed")
    listed = client.get("/api/v1/open-data/resources").json()
    assert [r["code"] for r in listed["items"]] == [firms.code]
    entry = listed["items"][0]
    assert entry["record_count"] == 3
    assert entry["csv_url"] == f"/open-data/{firms.code}/records.csv"
    assert "legal_representative" not in [c["key"] for c in entry["columns"]]


def test_download_streams_in_bounded_chunks(client, monkeypatch):
    resource = enterprise_resource("market", opening="open")
    mine.records(resource, [enterprise_row(n) for n in range(1, 2501)])
    monkeypatch.setattr(opendata, "CHUNK", 1000)
    response = client.get(f"/open-data/{resource.code}/records.csv")
    with CaptureQueriesContext(connection) as queries:
        rows = _csv_rows(response)[1:]
    selects = [q["sql"] for q in queries.captured_queries if "exchange_record" in q["sql"]]
    assert len(selects) == 3 and all("LIMIT 1000" in sql for sql in selects)
    assert len(rows) == 2500 and len({r[0] for r in rows}) == 2500
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
