"""My data (我的数据): my own records across departments, in clear, and every access to them —
never another person's — with the ledger entry once the access is sealed; officials are refused."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from tests.exchange import factories_mydata as mine
from tests.exchange.factories import enterprise_resource, person_resource, person_row, system_token
from tests.identity.factories import make_citizen_user, make_department, make_enterprise, make_official
from tongban.exchange.services import mydata
from tongban.identity import tokens
from tongban.identity.access import actor_for_user
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


def _bearer(user: User) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue_user_token(user).key}"}


@pytest.fixture
def world():
    """Two citizens with records in two departments' resources, and an enterprise."""
    civil = person_resource("civil")
    health = person_resource("health", name="健康档案摘要")
    me = make_citizen_user("me-citizen", "张三")
    other = make_citizen_user("other-citizen", "李四")
    my_id, other_id = me.citizen.id_number, other.citizen.id_number
    mine.records(civil, [person_row(1, id_number=my_id, name="张三", phone="13812345678"),
                         person_row(2, id_number=other_id, name="李四")])
    mine.records(health, [person_row(3, id_number=my_id, name="张三", marital_status="10")])
    market = enterprise_resource("market")
    firm_user = User.objects.create_user(username="me-firm", password="x", kind=User.Kind.ENTERPRISE)
    firm = make_enterprise("杭州我的科技有限公司", user=firm_user)
    mine.records(market, [{"uscc": firm.uscc, "org_name": firm.name, "legal_representative": "王五",
                           "registered_capital": "100"}])
    return {"civil": civil, "health": health, "market": market, "me": me, "other": other, "my_id": my_id,
            "other_id": other_id, "firm_user": firm_user, "firm": firm}


def test_my_records_are_mine_only_in_clear_and_by_department(client, world):
    body = client.get("/api/v1/me/data", **_bearer(world["me"])).json()
    assert body["subject_kind"] == "citizen" and body["count"] == 2
    codes = [r["resource_code"] for r in body["records"]]
    assert codes == [world["civil"].code, world["health"].code]  # civil before health (provider order)
    civil = body["records"][0]
    assert civil["department"] == "civil" and civil["department_name"] == mine.department_name("civil")
    values = {i["key"]: i for i in civil["items"]}
    assert values["id_number"]["value"] == world["my_id"]  # my own data: in clear, not masked
    assert values["name"]["value"] == "张三" and values["phone"]["value"] == "13812345678"
    assert values["marital_status"]["name"] == "婚姻状况"
    assert values["marital_status"]["display"] == "已婚（20）"  # code list name shown
    text = json.dumps(body, ensure_ascii=False)
    assert world["other_id"] not in text and "李四" not in text


def test_an_enterprise_sees_its_records_by_uscc(client, world):
    body = client.get("/api/v1/me/data", **_bearer(world["firm_user"])).json()
    assert body["subject_kind"] == "enterprise"
    assert [r["resource_code"] for r in body["records"]] == [world["market"].code]
    assert {i["key"]: i["value"] for i in body["records"][0]["items"]}["legal_representative"] == "王五"


def test_an_account_without_a_subject_row_has_no_data(client, world):
    lonely = User.objects.create_user(username="lonely", password="x", kind=User.Kind.CITIZEN)
    assert client.get("/api/v1/me/data", **_bearer(lonely)).json() == {"subject_kind": "citizen", "records": [],
                                                                      "count": 0}
    assert client.get("/api/v1/me/data-access", **_bearer(lonely)).json()["count"] == 0


@pytest.mark.parametrize("path", ["/api/v1/me/data", "/api/v1/me/data-access"])
def test_officials_and_systems_are_refused_and_nobody_must_log_in(client, settings, path):
    settings.TONGBAN_MFA_REQUIRED = False
    official = make_official("civil-clerk", make_department("civil"), ["clerk"])
    assert client.get(path, **_bearer(official)).status_code == 403
    key = system_token("health", "exchange:query")
    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert client.get(path).status_code == 401


def test_accesses_to_my_data_and_only_mine(client, world):
    civil, my_id, other_id = world["civil"], world["my_id"], world["other_id"]
    earlier = timezone.now() - datetime.timedelta(hours=2)
    mine.access("health", civil.code, my_id, items=["name", "marital_status"], purpose="出生医学证明核验", at=earlier)
    mine.access("hr", civil.code, None, mode="lookup", items=["marital_status"], purpose="就业援助认定",
                subjects=[other_id, my_id])
    mine.access("market", civil.code, other_id, purpose="别人的事")
    body = client.get("/api/v1/me/data-access", **_bearer(world["me"])).json()
    assert body["count"] == 2
    newest, oldest = body["items"]
    assert newest["department"] == "hr" and newest["mode"] == "lookup"  # found through AccessSubject
    assert oldest["department_name"] == mine.department_name("health")
    assert oldest["resource_name"] == civil.name and oldest["purpose"] == "出生医学证明核验"
    assert [i["name"] for i in oldest["items"]] == ["姓名", "婚姻状况"]
    assert oldest["recorded"] is False and oldest["ledger_index"] is None and oldest["proof_url"] is None
    assert "别人的事" not in json.dumps(body, ensure_ascii=False)
    other = client.get("/api/v1/me/data-access", **_bearer(world["other"])).json()
    assert sorted(a["department"] for a in other["items"]) == ["hr", "market"]


def test_access_shows_its_ledger_entry_once_sealed(client, world):
    row = mine.access("health", world["civil"].code, world["my_id"], items=["marital_status"])
    index = mine.seal(row)
    item = client.get("/api/v1/me/data-access", **_bearer(world["me"])).json()["items"][0]
    assert item["recorded"] is True and item["ledger_index"] == index
    assert item["proof_url"] == f"/api/v1/ledger/entries/{index}"
    assert item["ledger_url"] == f"/ledger/entries/{index}/"
    proof = client.get(item["proof_url"])
    assert proof.status_code == 200 and proof.json()["index"] == index


def test_access_paging(client, world):
    for n in range(5):
        mine.access("health", world["civil"].code, world["my_id"], purpose=f"第{n}次",
                    at=timezone.now() - datetime.timedelta(minutes=n))
    auth = _bearer(world["me"])
    page = client.get("/api/v1/me/data-access?limit=2&offset=2", **auth).json()
    assert page["count"] == 5 and page["limit"] == 2 and page["offset"] == 2
    assert [a["purpose"] for a in page["items"]] == ["第2次", "第3次"]
    for bad in ("limit=0", "limit=201", "offset=-1"):
        response = client.get(f"/api/v1/me/data-access?{bad}", **auth)
        assert response.status_code == 422, bad


def test_service_refuses_officials(world):
    official = actor_for_user(make_official("health-steward-x", make_department("health"), ["steward"]))
    from tongban.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        mydata.my_records(official)
    with pytest.raises(PermissionDenied):
        mydata.my_accesses(official)


# --- the page ----------------------------------------------------------------------------------------------


def test_my_data_page_shows_my_records_and_accesses(client, world):
    row = mine.access("health", world["civil"].code, world["my_id"], items=["marital_status"], purpose="婚姻状况核验")
    index = mine.seal(row)
    mine.access("hr", world["health"].code, world["my_id"], purpose="尚未存证")
    mine.access("market", world["civil"].code, world["other_id"], purpose="别人的事")
    client.force_login(world["me"])
    response = client.get("/me/data/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="my-record"') == 2
    assert world["my_id"] in html and "13812345678" in html and world["other_id"] not in html
    assert html.count('data-testid="access-row"') == 2
    assert "婚姻状况核验" in html and "尚未存证" in html and "别人的事" not in html
    assert f'href="/ledger/entries/{index}/"' in html
    assert mine.department_name("health") in html


def test_my_data_page_refuses_officials_and_asks_visitors_to_log_in(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    response = client.get("/me/data/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_official("civil-clerk", make_department("civil"), ["clerk"]))
    assert client.get("/me/data/").status_code == 403


def test_my_space_links_to_my_data(client, world):
    client.force_login(world["me"])
    assert 'href="/me/data/"' in client.get("/me/").content.decode()
