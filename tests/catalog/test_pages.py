"""Catalog pages: search with facets, detail, open-data portal, steward editor, import, review queue."""

from __future__ import annotations

import io

import pytest

from tests.catalog.factories import bureau, enterprise_items, publish, resource_data, steward
from tests.catalog.test_import_export import GOOD, HEADER, csv_bytes
from tests.identity.factories import make_citizen_user, make_department, make_official
from tongban.catalog import services
from tongban.catalog.models import Resource
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


@pytest.fixture
def catalog():
    market, reviewer = steward(), bureau()
    closed = publish(market, reviewer, name="婚姻登记信息", opening="closed")
    opened = publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open",
                     items=enterprise_items(), abstract="企业登记的基本信息。", keywords=["企业"])
    return closed, opened


def test_search_page_with_facets_in_chinese(client, catalog):
    closed, opened = catalog
    page = client.get("/catalog/", {"q": "企业"}).content.decode()
    assert "数据目录" in page and "企业登记信息" in page
    assert "婚姻登记信息" not in page  # closed: not for the public
    assert "开放类型" in page and "无条件开放" in page  # facets
    assert 'role="search"' in page and 'for="q"' in page


def test_htmx_search_returns_the_results_fragment(client, catalog):
    response = client.get("/catalog/", {"q": "企业"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "企业登记信息" in body and "<html" not in body


def test_signed_in_search_shows_every_published_resource(client, catalog):
    make_citizen_user("page-citizen")
    client.force_login(User.objects.get(username="page-citizen"))
    body = client.get("/catalog/", {"q": "登记"}).content.decode()
    assert "婚姻登记信息" in body and "企业登记信息" in body
    assert "婚姻登记信息" not in client.get("/open-data/").content.decode()  # the portal shows open data only


def test_detail_page(client, catalog):
    closed, opened = catalog
    body = client.get(f"/catalog/{opened.code}/").content.decode()
    for text in ("企业登记信息", "统一社会信用代码", "主体标识", "元数据质量", "尚缺内容", "申请共享",
                 f"/workbench/exchange/requests/new?resource={opened.code}", "grade-general"):
        assert text in body, text
    assert client.get(f"/catalog/{closed.code}/").status_code == 404
    client.cookies["tongban_language"] = "en"
    english = client.get(f"/catalog/{opened.code}/").content.decode()
    assert "Metadata quality" in english and "Request access" in english


def test_open_data_and_jsonld(client, catalog):
    body = client.get("/open-data/").content.decode()
    assert "开放数据" in body and "企业登记信息" in body and "/catalog.jsonld" in body
    assert client.get("/catalog.jsonld").status_code == 200


def test_steward_workbench_create_submit_and_errors(client):
    make_official("page-steward", make_department("market"), ["steward"])
    client.force_login(User.objects.get(username="page-steward"))
    assert client.get("/workbench/catalog/").status_code == 200
    form = {
        "name": "婚姻登记信息", "abstract": "摘要", "category": "department", "format": "database",
        "sharing": "conditional", "sharing_method": "api", "sharing_basis": "", "opening": "closed",
        "update_cycle": "daily", "items-TOTAL_FORMS": "2", "items-INITIAL_FORMS": "0",
        "items-0-name": "公民身份号码", "items-0-key": "id_number", "items-0-data_element": "DE00001",
        "items-0-data_type": "string", "items-0-is_subject_key": "on", "items-0-grade": "core",
        "items-0-masking": "none", "items-1-name": "姓名", "items-1-key": "name", "items-1-data_element": "DE00002",
        "items-1-data_type": "string", "items-1-grade": "general", "items-1-masking": "none",
    }
    response = client.post("/workbench/catalog/new/", form)
    assert response.status_code == 200
    assert "有条件共享或不予共享须注明法律法规或政策依据" in response.content.decode()
    assert Resource.objects.count() == 0
    form["sharing_basis"] = "《浙江省公共数据条例》第二十四条"
    response = client.post("/workbench/catalog/new/", {**form, "submit": "1"})
    assert response.status_code == 302
    resource = Resource.objects.get()
    assert resource.status == "submitted" and resource.items.count() == 2
    assert resource.code in client.get("/workbench/catalog/").content.decode()


def test_edit_and_actions(client):
    market, reviewer = steward("market", "page-steward2"), bureau()
    published = publish(market, reviewer)
    client.force_login(User.objects.get(username="page-steward2"))
    response = client.post(f"/workbench/catalog/{published.code}/revise/")
    assert response.status_code == 302 and response["Location"].endswith(f"/workbench/catalog/{published.code}/edit/")
    page = client.get(f"/workbench/catalog/{published.code}/edit/").content.decode()
    assert "婚姻登记信息" in page and "v2" in page
    client.post(f"/workbench/catalog/{published.code}/submit/")
    assert Resource.objects.get(code=published.code, version=2).status == "submitted"
    client.post(f"/workbench/catalog/{published.code}/deprecate/", {"reason": ""})
    assert Resource.objects.get(code=published.code, version=1).status == "published"


def test_other_department_cannot_edit(client):
    market, _reviewer = steward(), bureau()
    draft = services.create_resource(market, resource_data())
    make_official("page-health", make_department("health"), ["steward"])
    client.force_login(User.objects.get(username="page-health"))
    assert client.get(f"/workbench/catalog/{draft.code}/edit/").status_code == 404
    assert client.post(f"/workbench/catalog/{draft.code}/submit/").status_code == 404
    assert Resource.objects.get(pk=draft.pk).status == "draft"


def test_import_page_lists_row_errors(client):
    make_official("page-importer", make_department("market"), ["steward"])
    client.force_login(User.objects.get(username="page-importer"))
    upload = io.BytesIO(csv_bytes([HEADER, GOOD, [*GOOD[:3], "", *GOOD[4:]]]))
    upload.name = "catalog.csv"
    body = client.post("/workbench/catalog/import/", {"file": upload}).content.decode()
    assert "sharing_basis_required" in body and "共享依据" in body
    assert Resource.objects.count() == 0


def test_review_queue_publish_and_reject(client):
    market = steward()
    first = services.create_resource(market, resource_data())
    second = services.create_resource(market, resource_data(name="第二个"))
    services.submit(market, first.code)
    services.submit(market, second.code)
    make_official("page-bureau", make_department("bureau", is_bureau=True), ["bureau_admin", "cdo"])
    client.force_login(User.objects.get(username="page-bureau"))
    body = client.get("/workbench/catalog/review/").content.decode()
    assert first.code in body and second.code in body
    client.post(f"/workbench/catalog/review/{first.code}/", {"decision": "publish"})
    client.post(f"/workbench/catalog/review/{second.code}/", {"decision": "reject", "comment": ""})
    assert Resource.objects.get(pk=second.pk).status == "submitted"  # a rejection needs a comment
    client.post(f"/workbench/catalog/review/{second.code}/", {"decision": "reject", "comment": "请补充依据"})
    assert Resource.objects.get(pk=first.pk).status == "published"
    assert Resource.objects.get(pk=second.pk).status == "draft"


def test_workbench_needs_a_login_and_a_role(client):
    assert client.get("/workbench/catalog/").status_code == 302
    make_citizen_user("page-citizen2")
    client.force_login(User.objects.get(username="page-citizen2"))
    assert client.get("/workbench/catalog/").status_code == 403
    assert client.get("/workbench/catalog/review/").status_code == 403
