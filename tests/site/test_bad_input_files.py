"""Bad files: path traversal in upload names (every upload, API and pages), files over the limits,
XLSX bombs on the catalog import (the only XLSX import), huge CSV lines and fields, and spreadsheet
formula injection in every CSV / XLSX export. Each refusal is the specific error and nothing
changed (rows, ledger, files on disk)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.catalog.factories import bureau, publish
from tests.catalog.factories import steward as catalog_steward
from tests.exchange.factories import ENTERPRISE_ITEMS, enterprise_row, person_resource, steward, uscc
from tests.onestop import factories as of
from tests.onestop import factories_apps as fa
from tests.site.bad_input_support import bearer, changed, envelope, multipart, state
from tongban.core.formula_guard import formula_safe, unguard
from tongban.exchange.models import Record
from tongban.identity.models import User
from tongban.onestop.models import Upload
from tongban.oversight.services import xlsx

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
TRAVERSALS = ["../../etc/passwd.pdf", "..\\..\\windows\\x.pdf", "/etc/passwd.pdf", "C:\\Windows\\x.pdf",
              b"a\x00b.pdf", "..%2F..%2Fx.pdf", "....//....//x.pdf", ".pdf", "~/.ssh/authorized_keys.pdf",
              "\u202epdf.exe", ".." + "/" * 300 + "x.pdf"]
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1", " =1+1", "  @x"]


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path / "data" / "uploads"


@pytest.fixture
def draft():
    item = of.service_item("civil", materials=[{"source": "upload", "name": "照片"}])
    user, _ = of.citizen_applicant()
    application = fa.start(user, item)
    return {"number": application.number, "material": item.materials.get().pk, "user": user}


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# --- path traversal in upload names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TRAVERSALS, ids=range(len(TRAVERSALS)))
def test_onestop_api_upload_stores_a_generated_name_inside_media_root(client, draft, tmp_path, settings, name):
    body, content_type = multipart({"material": str(draft["material"])}, {"file": (name, PDF)})
    headers = bearer(draft["user"])
    before = state(tmp_path)
    response = client.post(f"/api/v1/onestop/applications/{draft['number']}/uploads", data=body,
                           content_type=content_type, **headers)
    assert response.status_code == 201, response.content
    shown = response.json()["name"]  # kept for display only: no separators or control characters
    assert not re.search(r"[/\\\x00-\x1f]", shown) and 0 < len(shown) <= 200
    # Exactly one new file, under MEDIA_ROOT, named by the server; nothing anywhere else.
    new_files = sorted(set(_stored_files(tmp_path)) - {tmp_path / f for f, _ in before["files"][str(tmp_path)]})
    assert len(new_files) == 1, new_files
    stored = new_files[0].resolve()
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", stored.name) and stored.read_bytes() == PDF
    assert Upload.objects.get().file.name.startswith("onestop/")
    difference = changed(before, state(tmp_path))
    assert {"onestop.upload", "files"} <= set(difference) <= {
        "onestop.upload", "onestop.applicationevent", "ledger.ledgerevent", "ledger.ledgersubject", "ledger", "files"}
    assert difference["onestop.upload"] == (0, 1)


@pytest.mark.parametrize("name", ["../../x.pdf", b"..\\evil\x00.pdf"], ids=["dots", "nul"])
def test_onestop_page_upload_stores_a_generated_name(client, draft, tmp_path, settings, name):
    client.force_login(draft["user"])
    body, content_type = multipart({"material": str(draft["material"])}, {"file": (name, PDF)})
    response = client.post(f"/me/applications/{draft['number']}/materials/", data=body, content_type=content_type)
    assert response.status_code == 302, response.content[:500]
    files = _stored_files(tmp_path)
    assert len(files) == 1 and files[0].resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", files[0].name)


@pytest.mark.parametrize("name", ["../../../catalog.csv", "/etc/cron.d/x.csv", b"..\\x\x00.csv"], ids=range(3))
def test_catalog_import_names_reach_no_path(client, tmp_path, name):
    """The catalog import reads the name's extension only; a good file is imported, nothing is written."""
    keeper = catalog_steward("market")
    header = "资源名称,资源摘要,共享类型,开放类型,更新周期,信息项\n"
    good = (header + "统计年鉴,年度统计数据汇编。,无条件共享,无条件开放,每年,统一社会信用代码:uscc:主体标识;指标:string\n").encode()
    body, content_type = multipart({}, {"file": (name, good)})
    headers = bearer(keeper)
    before = state(tmp_path)
    response = client.post("/api/v1/catalog/import", data=body, content_type=content_type, **headers)
    assert response.status_code == 201, response.content
    assert before["files"] == state(tmp_path)["files"]


# --- files over the limits -------------------------------------------------------------------------------------


def test_onestop_upload_over_10_mb_is_422_file_too_large(client, draft, tmp_path):
    body, content_type = multipart({"material": str(draft["material"])},
                                   {"file": ("big.pdf", PDF + b"\0" * (10 * 1024 * 1024))})
    headers = bearer(draft["user"])
    before = state(tmp_path)
    response = client.post(f"/api/v1/onestop/applications/{draft['number']}/uploads", data=body,
                           content_type=content_type, **headers)
    error = envelope(response, 422, "file_too_large")
    assert error["messages"] == {"zh-hans": "文件超过 10 MB", "en": "The file is larger than 10 MB"}
    assert changed(before, state(tmp_path)) == {}

    client.force_login(draft["user"])
    page = client.post(f"/me/applications/{draft['number']}/materials/", data=body, content_type=content_type)
    assert page.status_code == 422
    assert re.search(r'class="field-error" id="upload-error-\d+">文件超过 10 MB<', page.content.decode())
    assert changed(before, state(tmp_path)) == {}


def test_catalog_import_over_5_mb_is_422_file_too_large(client, tmp_path):
    headers = bearer(catalog_steward("market"))
    body, content_type = multipart({}, {"file": ("big.csv", b"a," * (3 * 1024 * 1024))})
    before = state(tmp_path)
    response = client.post("/api/v1/catalog/import", data=body, content_type=content_type, **headers)
    assert envelope(response, 422, "file_too_large")["messages"]["en"] == "File too large (limit 5 MB)"
    assert changed(before, state(tmp_path)) == {}


# --- XLSX bombs ---------------------------------------------------------------------------------------------------


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["资源名称", "资源摘要", "共享类型", "开放类型", "更新周期", "信息项"])
    book.active.append(["统计年鉴", "年度统计数据汇编。", "无条件共享", "无条件开放", "每年",
                        "统一社会信用代码:uscc:主体标识;指标:string"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _with_part(content: bytes, name: str, data: bytes | None = None, chunks=None) -> bytes:
    """The workbook with part ``name`` replaced by ``data`` (or written from ``chunks``)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info.filename))
        with archive.open(name, "w", force_zip64=True) as part:
            for chunk in (chunks if chunks is not None else [data]):
                part.write(chunk)
    return out.getvalue()


def _lying_sizes(content: bytes, name: str) -> bytes:
    """Declare the part ``name`` 1 KB unpacked (local header and central directory) whatever it holds."""
    data = bytearray(content)
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                data[start + size_at:start + size_at + 4] = (1024).to_bytes(4, "little")
            start += 4
    return bytes(data)


SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'


def _bombs() -> dict[str, tuple[bytes, str]]:
    base = _workbook()
    row = b'<row><c t="inlineStr"><is><t>' + b"x" * 1000 + b"</t></is></c></row>"
    huge = [SHEET_HEAD] + [row * 1000] * 60 + [b"</sheetData></worksheet>"]  # 60 MB unpacked
    laughs = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e "' + b"x" * 90 + b'">]>' + SHEET_HEAD
              + b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"&e;" * 1_500_000 + b"</t></is></c></row>"
              + b"</sheetData></worksheet>")
    billion = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
               + b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(8))
               + b"]>" + SHEET_HEAD + b'<row><c t="inlineStr"><is><t>&i;</t></is></c></row></sheetData></worksheet>')
    shared = _with_part(base, "xl/sharedStrings.xml", laughs.replace(SHEET_HEAD, b'<sst xmlns="x"><si>')
                        .replace(b"</sheetData></worksheet>", b"</si></sst>"))
    renamed = _renamed_sheet(_with_part(base, SHEET, laughs))
    return {
        "entities in a sheet named .dat": (renamed, "unsafe_xml"),
        "huge sheet (60 MB unpacked)": (_with_part(base, SHEET, chunks=huge), "file_too_large"),
        "declared sizes lie": (_lying_sizes(_with_part(base, SHEET, chunks=huge), SHEET), "invalid_file"),
        "entity expansion (quadratic)": (_with_part(base, SHEET, laughs), "unsafe_xml"),
        "billion laughs": (_with_part(base, SHEET, billion), "unsafe_xml"),
        "entities in sharedStrings": (shared, "unsafe_xml"),
        "not a zip at all": (b"PK\x03\x04" + b"\0" * 100, "invalid_file"),
    }


def _renamed_sheet(content: bytes) -> bytes:
    """The sheet stored as ``xl/worksheets/sheet1.dat`` (the workbook's relations say where it is)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(b"sheet1.xml", b"sheet1.dat")
            archive.writestr(info.filename.replace("sheet1.xml", "sheet1.dat"), data)
    return out.getvalue()


@pytest.fixture(scope="module")
def bombs():
    return _bombs()


@pytest.mark.parametrize("kind", ["huge sheet (60 MB unpacked)", "declared sizes lie", "entity expansion (quadratic)",
                                  "billion laughs", "entities in sharedStrings", "entities in a sheet named .dat",
                                  "not a zip at all"])
def test_xlsx_bombs_are_refused_quickly_with_bounded_memory(client, tmp_path, bombs, kind):
    content, code = bombs[kind]
    assert len(content) < 200_000  # a small upload ...
    keeper = bearer(catalog_steward("market"))
    body, content_type = multipart({}, {"file": ("bomb.xlsx", content)})
    before = state(tmp_path)
    tracemalloc.start()
    started = time.monotonic()
    try:
        response = client.post("/api/v1/catalog/import", data=body, content_type=content_type, **keeper)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    error = envelope(response, 422, code)
    assert error["messages"]["en"] in {"File too large when unpacked", "Cannot read the XLSX file",
                                      "The XLSX file contains an XML document type declaration (DTD), which is not "
                                      "allowed"}
    assert elapsed < 10 and peak < 40 * 1024 * 1024, (elapsed, peak)  # ... refused before it is expanded
    assert changed(before, state(tmp_path)) == {}


@pytest.mark.parametrize("renamed", [False, True])
def test_a_real_workbook_still_imports(client, renamed):
    content = _renamed_sheet(_workbook()) if renamed else _workbook()
    body, content_type = multipart({}, {"file": ("ok.xlsx", content)})
    response = client.post("/api/v1/catalog/import", data=body, content_type=content_type,
                           **bearer(catalog_steward("market")))
    assert response.status_code == 201 and response.json()["count"] == 1, response.content


# --- huge CSV lines and fields ----------------------------------------------------------------------------------


@pytest.fixture
def loader():
    resource = publish(steward("market"), bureau(), name="企业登记基本信息", items=ENTERPRISE_ITEMS,
                       sharing="open_share", sharing_conditions="", opening="open", theme="legal_entity",
                       sharing_basis="《企业信息公示暂行条例》第六条")
    return resource, bearer(steward("market"))


CSV_CASES = {
    "huge field": (("uscc,org_name\n" + uscc(1) + ",\"" + "长" * 200_000 + "\"\n").encode(), "invalid_csv"),
    "huge unquoted field": (("uscc,org_name\n" + uscc(1) + "," + "x" * 300_000 + "\n").encode(), "invalid_csv"),
    "huge header": (("," * 200_000 + "\n").encode(), "unknown_column"),
    "unterminated quote": (("uscc,org_name\n\"" + "x" * 100_000).encode(), "invalid_records"),
}


@pytest.mark.parametrize("kind", sorted(CSV_CASES))
def test_huge_csv_lines_and_fields_are_refused(client, loader, kind):
    resource, headers = loader
    body, code = CSV_CASES[kind]
    before = state()
    response = client.post(f"/api/v1/exchange/resources/{resource.code}/records", data=body,
                           content_type="text/csv", **headers)
    error = envelope(response, 422, code)
    assert len(response.content) < 64 * 1024  # the error does not echo the upload back
    if code == "invalid_csv":
        assert error["messages"] == {"zh-hans": "CSV 文件格式有误", "en": "The CSV file is malformed"}
    assert changed(before, state()) == {}


def test_huge_csv_field_on_the_catalog_import(client):
    header = "资源名称,资源摘要,共享类型,开放类型,更新周期,信息项\n"
    body, content_type = multipart({}, {"file": ("big.csv", (header + "x," + "y" * 200_000 + "\n").encode())})
    headers = bearer(catalog_steward("market"))
    before = state()
    response = client.post("/api/v1/catalog/import", data=body, content_type=content_type, **headers)
    assert envelope(response, 422, "invalid_file")["messages"]["en"] == "Malformed CSV"
    assert changed(before, state()) == {}


def test_ndjson_line_over_1_mb_is_a_bad_row(client, loader):
    resource, headers = loader
    body = json.dumps(enterprise_row(1)).encode() + b"\n" + b'{"org_name": "' + b"x" * (1024 * 1024 + 10) + b'"}\n'
    before = state()
    response = client.post(f"/api/v1/exchange/resources/{resource.code}/records", data=body,
                           content_type="application/x-ndjson", **headers)
    error = envelope(response, 422, "invalid_records")
    assert [(e["row"], e["code"]) for e in error["details"]["errors"]] == [(2, "line_too_long")]
    assert changed(before, state()) == {}


# --- formula injection in exports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_guard_quotes_what_a_spreadsheet_would_run(text):
    assert formula_safe(text) == "'" + text and unguard(formula_safe(text)) == text
    for plain in ("-12.5", "+86", "0", "张三", "a=b", ""):
        assert formula_safe(plain) == plain and unguard(plain) == plain


def _cells(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_records_loaded_with_formulas_are_exported_inert(client):
    """Values loaded through the API, and the steward's own item name, come out of the open-data CSV,
    the records CSV template and the catalog CSV quoted; a template filled in loads again."""
    items = [*ENTERPRISE_ITEMS[:2], {"key": "note", "name": "=HYPERLINK(\"http://evil.example\")", "data_type": "string"}]
    resource = publish(steward("market"), bureau(), name=" =1+1 企业名录", items=items, sharing="open_share",
                       sharing_conditions="", opening="open", theme="legal_entity",
                       sharing_basis="《企业信息公示暂行条例》第六条")
    keeper = steward("market")
    headers = bearer(keeper)
    rows = [{"uscc": uscc(n), "org_name": f"企业{n}", "note": text} for n, text in enumerate(FORMULAS, start=1)]
    loaded = client.post(f"/api/v1/exchange/resources/{resource.code}/records", data=json.dumps({"records": rows}),
                         content_type="application/json", **headers)
    assert loaded.status_code == 201, loaded.content

    cells = _cells(client.get(f"/open-data/{resource.code}/records.csv"))
    assert cells[0] == ["统一社会信用代码", "单位名称", "'=HYPERLINK(\"http://evil.example\")"]
    stored = {r.subject: r.data["note"] for r in Record.objects.filter(resource_code=resource.code)}
    assert len(stored) == len(FORMULAS) and all(formula_safe(v) != v for v in stored.values())  # (trimmed on load)
    assert {row[0]: row[2] for row in cells[1:]} == {subject: "'" + v for subject, v in stored.items()}
    as_json = client.get(f"/api/v1/open-data/resources/{resource.code}/records").json()
    assert sorted(r["note"] for r in as_json["items"]) == sorted(stored.values())  # JSON keeps the data as it is

    client.force_login(User.objects.get(username=keeper.username))
    template = _cells(client.get(f"/workbench/exchange/records/{resource.code}/template.csv"))
    assert template == [["统一社会信用代码", "单位名称", "'=HYPERLINK(\"http://evil.example\")"]]
    filled = io.StringIO()
    csv.writer(filled).writerows([template[0], [uscc(99), "新企业", "备注"]])
    again = client.post(f"/api/v1/exchange/resources/{resource.code}/records", data=filled.getvalue().encode(),
                        content_type="text/csv", **headers)
    assert again.status_code == 201 and again.json()["inserted"] == 1, again.content

    catalog = _cells(client.get("/api/v1/catalog/export.csv"))
    row = next(r for r in catalog[1:] if r[0] == resource.code)
    assert row[catalog[0].index("资源名称")] == "'=1+1 企业名录"  # (the name is trimmed when saved)
    assert all(formula_safe(cell) == cell for cell in row)


def test_assessment_workbook_cells_are_text_not_formulas():
    ranking = {"period": "2026-10", "indicators": [{"key": "k", "label_zh": "指标", "label_en": "Indicator",
                                                    "weight": 1, "share": 100.0}],
               "rows": [{"rank": n, "total": 1.5, "indicators": {"k": 2},
                         "department": {"code": f"d{n}", "name": text, "name_zh": text}}
                        for n, text in enumerate(FORMULAS, start=1)]}
    book = openpyxl.load_workbook(io.BytesIO(xlsx.assessment_workbook(ranking)))
    sheet = book[xlsx.RANKING_SHEET]
    cells = [sheet.cell(row=r, column=3) for r in range(2, 2 + len(FORMULAS))]
    assert all(cell.data_type == "s" for cell in cells)
    assert [cell.value for cell in cells] == ["'" + text.replace("\r", "\n") for text in FORMULAS]  # XML: CR → LF
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


# --- the same files through the pages: a visible error, nothing stored ------------------------------------------


def test_page_uploads_show_the_error_and_store_nothing(client, tmp_path, bombs):
    """The steward's records CSV page, the catalog import page and the credential verifier take bad
    files under traversal names: each shows its error on the form; no row, no ledger entry, no file."""
    keeper, cataloguer = steward("civil"), catalog_steward("civil")
    resource = person_resource("civil")
    client.force_login(User.objects.get(username=keeper.username))
    before = state(tmp_path)

    records = "公民身份号码,姓名\n".encode() + b"\xff\xfe\xfd,\xc3\x28\n"
    body, content_type = multipart({}, {"file": ("../../../../etc/cron.d/x.csv", records)})
    page = client.post(f"/workbench/exchange/records/{resource.code}/", data=body, content_type=content_type)
    html = page.content.decode()
    assert page.status_code == 200 and 'class="field-error"' in html and "GB18030" in html

    client.force_login(User.objects.get(username=cataloguer.username))
    body, content_type = multipart({}, {"file": ("..\\..\\bomb.xlsx", bombs["entity expansion (quadratic)"][0])})
    page = client.post("/workbench/catalog/import/", data=body, content_type=content_type)
    assert page.status_code == 200
    assert re.search(r'class="field-error" role="alert">XLSX 文件含有不允许的 XML 文档类型声明', page.content.decode())

    body, content_type = multipart({}, {"file": ("/etc/passwd", b"\xff\xfe" + b"A" * 5000)})
    page = client.post("/credentials/verify/", data=body, content_type=content_type)
    assert page.status_code == 200 and 'class="invalid"' in page.content.decode()
    assert changed(before, state(tmp_path)) == {}

