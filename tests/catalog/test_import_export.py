"""Spreadsheet import (CSV, XLSX; all rows or none), CSV export, DCAT-AP 3 JSON-LD."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from rdflib import Graph

from tests.catalog.factories import bureau, enterprise_items, publish, steward
from tests.identity.factories import PASSWORD, make_department, make_official
from tongban.catalog import spreadsheet
from tongban.catalog.models import Resource
from tongban.core.errors import InvalidInput, PermissionDenied
from tongban.identity.access import ANONYMOUS

pytestmark = pytest.mark.django_db

HEADER = ["资源名称", "资源摘要", "共享类型", "共享依据", "开放类型", "更新周期", "资源格式", "关键字", "主题", "信息项"]
GOOD = ["婚姻登记信息", "婚姻登记机关办理的结婚离婚登记信息。", "有条件共享", "《浙江省公共数据条例》第二十四条", "不予开放",
        "每日", "数据库", "婚姻、登记", "民政",
        "公民身份号码:id_number:必填:主体标识:核心:个人敏感:脱敏=首3尾4;姓名:DE00002:必填:重要;性别:性别;备注:string(200):键=note"]
GOOD2 = ["企业登记信息", "企业登记基本信息。", "无条件共享", "", "无条件开放", "实时", "数据库", "企业 登记", "法人",
         "统一社会信用代码:uscc:主体标识;企业名称:DE00010:必填:英文=Name"]


def csv_bytes(rows, encoding="utf-8-sig"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_csv_import_creates_drafts():
    market = steward()
    created = spreadsheet.import_resources(market, "catalog.csv", csv_bytes([HEADER, GOOD, GOOD2]))
    assert [r.code for r in created] == ["market-00001", "market-00002"]
    first = created[0]
    assert (first.status, first.sharing, first.opening, first.update_cycle, first.theme) == (
        "draft", "conditional", "closed", "daily", "civil_affairs")
    assert first.keywords == ["婚姻", "登记"]
    items = {i.key: i for i in first.items.all()}
    assert set(items) == {"id_number", "name", "sex", "note"}
    assert items["id_number"].is_subject_key and items["id_number"].grade == "core"
    assert (items["id_number"].masking, items["id_number"].mask_head, items["id_number"].mask_tail) == ("keep_ends", 3, 4)
    assert items["sex"].data_element.identifier == "DE00003"  # a data element named by its Chinese name
    assert items["note"].max_length == 200
    assert created[1].items.get(key="org_name").name_en == "Name"


def test_gb18030_csv_and_xlsx_are_read():
    market = steward()
    assert len(spreadsheet.import_resources(market, "目录.csv", csv_bytes([HEADER, GOOD], "gb18030"))) == 1
    assert len(spreadsheet.import_resources(market, "目录.xlsx", xlsx_bytes([HEADER, GOOD, GOOD2]))) == 2


def test_bad_rows_are_all_listed_and_nothing_is_imported():
    bad_basis = [*GOOD[:3], "", *GOOD[4:]]  # conditional without basis
    bad_items = [*GOOD[:9], "姓名:DE00002;手机:phone:主体标识;电话:phone:主体标识:奇怪标志"]
    bad_choice = ["", "摘要", "随便共享", "依据", "不予开放", "每日", "数据库", "", "", GOOD[9]]
    rows = [HEADER, GOOD, bad_basis, bad_items, bad_choice]
    with pytest.raises(InvalidInput) as error:
        spreadsheet.import_resources(steward(), "catalog.csv", csv_bytes(rows))
    assert error.value.code == "invalid_rows"
    found = {(e["row"], e["column"], e["code"]) for e in error.value.details}
    assert (3, "共享依据", "sharing_basis_required") in found
    assert (4, "信息项", "invalid_item_syntax") in found  # the unknown flag
    assert (4, "信息项", "multiple_subject_keys") in found
    assert (5, "资源名称", "field_required") in found
    assert (5, "共享类型", "invalid_choice") in found
    assert 2 not in {e["row"] for e in error.value.details}
    assert Resource.objects.count() == 0


def test_file_guards():
    market = steward()
    with pytest.raises(InvalidInput) as error:
        spreadsheet.import_resources(market, "big.csv", b"x" * (spreadsheet.MAX_IMPORT_BYTES + 1))
    assert error.value.code == "file_too_large"
    with pytest.raises(InvalidInput) as error:
        spreadsheet.import_resources(market, "catalog.csv", csv_bytes([["资源名称"], ["x"]]))
    assert error.value.code == "missing_columns"
    with pytest.raises(InvalidInput) as error:
        spreadsheet.import_resources(market, "catalog.xlsx", b"PK\x03\x04 not really a zip")
    assert error.value.code == "invalid_file"
    with pytest.raises(InvalidInput) as error:
        spreadsheet.import_resources(market, "catalog.pdf", b"%PDF")
    assert error.value.code == "unsupported_file_type"
    with pytest.raises(PermissionDenied):
        spreadsheet.import_resources(bureau(), "catalog.csv", csv_bytes([HEADER, GOOD]))


def test_import_over_the_api_lists_rows(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    make_official("imp-steward", make_department("market"), ["steward"])
    token = client.post("/api/v1/auth/token", data=json.dumps({"username": "imp-steward", "password": PASSWORD}),
                        content_type="application/json").json()["access_token"]
    upload = io.BytesIO(csv_bytes([HEADER, GOOD, [*GOOD[:3], "", *GOOD[4:]]]))
    upload.name = "catalog.csv"
    response = client.post("/api/v1/catalog/import", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_rows"
    assert response.json()["error"]["details"][0]["row"] == 3
    upload = io.BytesIO(csv_bytes([HEADER, GOOD]))
    upload.name = "catalog.csv"
    response = client.post("/api/v1/catalog/import", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201 and response.json()["count"] == 1


def test_export_is_guarded_and_round_trips():
    market, reviewer = steward(), bureau()
    publish(market, reviewer, name="=HYPERLINK(\"http://evil\")", keywords=["-危险", "@提示"])
    publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open", items=enterprise_items())
    text = spreadsheet.export_csv(spreadsheet.export_resources(market))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["资源代码", "版本", "提供部门", "发布日期"]
    names = [row[4] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in names
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # The public export holds only open resources.
    public_rows = list(csv.reader(io.StringIO(spreadsheet.export_csv(spreadsheet.export_resources(ANONYMOUS)))))
    assert len(public_rows) == 2
    # What we export, we can import again (formula guard undone).
    health = steward("health")
    created = spreadsheet.import_resources(health, "export.csv", text.encode("utf-8"))
    assert {r.name for r in created} == {"=HYPERLINK(\"http://evil\")", "企业登记信息"}
    again = {r.name: r for r in created}["企业登记信息"]
    assert [i.key for i in again.items.order_by("order")] == ["uscc", "org_name"]


def test_export_csv_over_the_api(client):
    market, reviewer = steward(), bureau()
    publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open", items=enterprise_items())
    response = client.get("/api/v1/catalog/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "企业登记信息" in response.content.decode("utf-8")


DCAT_MANDATORY = """
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
SELECT ?node ?problem WHERE {
  { ?node a dcat:Catalog . FILTER NOT EXISTS { ?node dct:title ?t } BIND("catalog without title" AS ?problem) }
  UNION { ?node a dcat:Catalog . FILTER NOT EXISTS { ?node dct:description ?d } BIND("catalog without description" AS ?problem) }
  UNION { ?node a dcat:Catalog . FILTER NOT EXISTS { ?node dct:publisher ?p } BIND("catalog without publisher" AS ?problem) }
  UNION { ?node a dcat:Catalog . FILTER NOT EXISTS { ?node dcat:dataset ?x } BIND("catalog without dataset" AS ?problem) }
  UNION { ?node a dcat:Dataset . FILTER NOT EXISTS { ?node dct:title ?t } BIND("dataset without title" AS ?problem) }
  UNION { ?node a dcat:Dataset . FILTER NOT EXISTS { ?node dct:description ?d } BIND("dataset without description" AS ?problem) }
  UNION { ?node a dcat:Distribution . FILTER NOT EXISTS { ?node dcat:accessURL ?u } BIND("distribution without accessURL" AS ?problem) }
  UNION { ?c dct:publisher ?node . FILTER NOT EXISTS { ?node foaf:name ?n } BIND("agent without name" AS ?problem) }
  UNION { ?c dct:publisher ?node . FILTER NOT EXISTS { ?node a foaf:Agent } BIND("publisher not an Agent" AS ?problem) }
  UNION { ?c dcat:dataset ?node . FILTER NOT EXISTS { ?node a dcat:Dataset } BIND("dataset not typed" AS ?problem) }
}
"""


def test_dcat_ap_jsonld_has_every_mandatory_property(client):
    market, reviewer = steward(), bureau()
    publish(market, reviewer, opening="closed")
    opened = publish(market, reviewer, name="企业登记信息", name_en="Enterprise registration", sharing="open_share",
                     opening="open", items=enterprise_items(), spatial="330000", temporal_start="2020-01-01",
                     contact_name="孙市", contact_email="data@market.example.gov.cn")
    publish(market, reviewer, name="医师执业信息", opening="conditional")
    response = client.get("/catalog.jsonld")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/ld+json")
    graph = Graph().parse(data=response.content.decode("utf-8"), format="json-ld")
    problems = list(graph.query(DCAT_MANDATORY))
    assert problems == [], problems
    datasets = list(graph.query("PREFIX dcat: <http://www.w3.org/ns/dcat#> SELECT ?d WHERE { ?d a dcat:Dataset }"))
    assert len(datasets) == 2  # the closed one is not in the open catalog
    details = list(graph.query(f"""
        PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX dct: <http://purl.org/dc/terms/>
        SELECT ?id ?theme ?freq ?kw ?url WHERE {{
          ?d dct:identifier ?id ; dcat:theme ?theme ; dct:accrualPeriodicity ?freq ; dcat:keyword ?kw ;
             dcat:distribution ?dist . ?dist dcat:accessURL ?url . FILTER(STR(?id) = "{opened.code}") }}"""))
    assert details
    assert str(details[0][1]).endswith("data-theme/SOCI")
    assert str(details[0][2]).endswith("frequency/DAILY")
    assert str(details[0][4]).endswith(f"/catalog/{opened.code}/")
