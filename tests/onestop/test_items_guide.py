"""Search and browse of the hall, and the guide (一次告知): everything at once, personalised for
a signed-in applicant (wallet credential, record held by the exchange) and generic otherwise."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from tests.exchange.factories import enterprise_resource, person_resource, person_row
from tests.exchange.factories_mydata import records
from tests.onestop import factories as f
from tongban.catalog import services as catalog
from tongban.credentials.models import CertificateType, Credential
from tongban.identity.access import ANONYMOUS
from tongban.onestop.services import guide as guides

pytestmark = pytest.mark.django_db

MATERIALS = [
    {"name": "结婚证", "source": "certificate", "certificate_type": "marriage_certificate"},
    {"name": "婚姻登记信息", "source": "shared_data", "resource_code": "civil-00001",
     "resource_items": ["marital_status"]},
    {"name": "照片", "source": "upload", "necessity": "optional"},
    {"name": "用途", "source": "form", "form_section": "purpose"},
]
FORM = [{"key": "name", "label": "姓名", "type": "text", "required": True,
         "prefill": {"resource": "civil-00001", "item": "name"}},
        {"key": "purpose", "label": "用途", "type": "text", "required": True}]


@pytest.fixture
def item():
    person_resource("civil")
    f.make_certificate_type("marriage_certificate", "civil")
    return f.service_item("civil", code="330000-civil-G-0001", name="婚姻登记记录证明", form_schema=FORM,
                          materials=MATERIALS, fees="", visits=0, certificate_type="marriage_record_certificate",
                          legal_basis="《婚姻登记条例》", complaint="12345")


def _credential(citizen, type_code="marriage_certificate", **over) -> Credential:
    """A wallet row written directly (the guide only reads type, holder and state)."""
    n = Credential.objects.count()
    values = {"type": CertificateType.objects.get(code=type_code), "citizen": citizen, "subject": {},
              "issued_at": timezone.now(), "revocation_list": 1, "revocation_index": n, "suspension_list": 1,
              "suspension_index": n, "vc_jwt": "x", "qr_text": "x", "issued_by": "test"}
    values.update(over)
    return Credential.objects.create(**values)


def _by_name(guide: dict) -> dict[str, dict]:
    return {m["name"]: m for m in guide["materials"]}


def test_anonymous_guide_tells_everything_at_once(item):
    with translation.override("en"):  # the reasons are translated: read them in English
        guide = guides.guide(item, ANONYMOUS)
        assert "e-certificate" in str(_by_name(guide)["结婚证"]["reason"])
    assert not guide["personalised"]
    materials = _by_name(guide)
    assert materials["结婚证"]["not_needed"] and materials["结婚证"]["status"] == "generic"
    assert materials["婚姻登记信息"]["not_needed"] and materials["婚姻登记信息"]["provider"] == "civil 部门"
    assert "civil 部门" in materials["婚姻登记信息"]["reason"]
    assert not materials["照片"]["not_needed"] and materials["照片"]["status"] == "upload"
    assert materials["用途"]["status"] == "form"
    assert guide["fees_text"] == "Free of charge" and guide["zero_visit"]
    assert guide["time_limits"] == {"statutory_days": 20, "promised_days": 5, "unit": "working_days",
                                    "same_day": False}
    assert guide["legal_basis"] == "《婚姻登记条例》" and guide["complaint"] == "12345"
    assert guide["result"]["certificate_type"] == "marriage_record_certificate" and guide["result"]["to_wallet"]
    assert guide["form_fields"][0]["prefill"]["item_name"] == "姓名" and guide["form_fields"][0]["prefilled"] is None
    assert not guide["instant_approval"] and guide["instant_rule"] is None
    assert guide["apply_url"] == "/services/330000-civil-G-0001/apply/"


def test_citizen_without_credential_or_record_must_provide(item):
    user, _citizen = f.citizen_applicant()
    guide = guides.guide(item, f.actor(user))
    materials = _by_name(guide)
    assert guide["personalised"]
    assert (materials["结婚证"]["not_needed"], materials["结婚证"]["status"]) == (False, "missing")
    assert (materials["婚姻登记信息"]["not_needed"], materials["婚姻登记信息"]["status"]) == (False, "missing")
    assert guide["form_fields"][0]["prefilled"] is False
    assert guide["counts"]["to_provide"] == 2


def test_holder_of_the_certificate_and_the_record_provides_nothing(item):
    user, citizen = f.citizen_applicant()
    _credential(citizen)
    records(catalog.get_published("civil-00001"), [person_row(1, id_number=citizen.id_number)])
    with translation.override("en"):
        guide = guides.guide(item, f.actor(user))
        materials = _by_name(guide)
        assert "wallet" in str(materials["结婚证"]["reason"])
        assert "government records" in str(materials["婚姻登记信息"]["reason"])
    assert (materials["结婚证"]["not_needed"], materials["结婚证"]["status"]) == (True, "wallet")
    assert (materials["婚姻登记信息"]["not_needed"], materials["婚姻登记信息"]["status"]) == (True, "records")
    assert guide["form_fields"][0]["prefilled"] is True
    assert guide["counts"] == {"materials": 4, "not_needed": 2, "to_provide": 0, "fields": 2, "prefilled_fields": 1}


@pytest.mark.parametrize("state", ["revoked", "suspended", "expired"])
def test_an_unusable_credential_does_not_count(item, state):
    user, citizen = f.citizen_applicant()
    past = timezone.now() - timezone.timedelta(days=1)
    _credential(citizen, **{"revoked": {"revoked_at": past}, "suspended": {"suspended": True},
                            "expired": {"valid_until": past}}[state])
    assert _by_name(guides.guide(item, f.actor(user)))["结婚证"]["status"] == "missing"


def test_officials_and_other_kinds_get_the_generic_guide(item):
    assert not guides.guide(item, f.actor(f.clerk("civil")))["personalised"]
    enterprise, _ = f.enterprise_applicant()
    assert not guides.guide(item, f.actor(enterprise))["personalised"]


def test_instant_and_parallel_flags(item):
    person_resource("health")
    fast = f.service_item("health", co_departments=("civil",), instant_rule={"==": [1, 1]})
    guide = guides.guide(fast, None)
    assert guide["instant_approval"] and guide["instant_rule"]["version"] == 1
    assert guide["parallel"] and guide["co_departments"] == [{"code": "civil", "name": "civil 部门"}]
    listed = {entry.code: entry.instant_approval for entry in guides.search_items()}
    assert listed == {item.code: False, fast.code: True}


# --- search and browse ---------------------------------------------------------------------------------------


@pytest.fixture
def hall():
    enterprise_resource("market")
    f.service_item("civil", code="330000-civil-S-0001", name="婚姻登记记录证明", theme="civil_affairs",
                   life_events=["marriage"], keywords=["购房"], summary="出具证明")
    f.service_item("civil", code="330000-civil-S-0002", name="高龄津贴申领", theme="elderly",
                   life_events=["elderly", "retirement"], summary="用于婚姻登记以外")
    f.service_item("market", code="330000-market-S-0001", name="食品经营许可", theme="business_licensing",
                   applicant_kind="enterprise", co_departments=("health",), life_events=["starting_business"])
    f.service_item("civil", code="330000-civil-S-0003", name="已撤下的婚姻事项", status="withdrawn")
    f.service_item("civil", code="330000-civil-S-0004", name="草稿婚姻事项", status="draft")


def codes(found) -> list[str]:
    return [item.code for item in found]


def test_search_matches_name_summary_keywords_and_ranks_names_first(hall):
    assert codes(guides.search_items("婚姻登记")) == ["330000-civil-S-0001", "330000-civil-S-0002"]
    assert codes(guides.search_items("购房")) == ["330000-civil-S-0001"]
    assert codes(guides.search_items("津贴 申领")) == ["330000-civil-S-0002"]
    assert codes(guides.search_items("火星")) == []
    assert len(guides.search_items()) == 3  # published only


def test_browse_filters(hall):
    assert codes(guides.search_items(theme="elderly")) == ["330000-civil-S-0002"]
    assert codes(guides.search_items(life_event="retirement")) == ["330000-civil-S-0002"]
    assert codes(guides.search_items(department="market")) == ["330000-market-S-0001"]
    assert codes(guides.search_items(department="health")) == ["330000-market-S-0001"]  # co-handled
    assert codes(guides.search_items(applicant_kind="enterprise")) == ["330000-market-S-0001"]
    assert codes(guides.search_items("婚姻", department="civil", theme="civil_affairs")) == ["330000-civil-S-0001"]


def test_facets_count_published_items(hall):
    facets = guides.hall_facets()
    assert {e["value"]: e["count"] for e in facets["departments"]} == {"civil": 2, "market": 1, "health": 1}
    assert {e["value"] for e in facets["life_events"]} == {"marriage", "elderly", "retirement", "starting_business"}
    assert {e["value"]: e["count"] for e in facets["themes"]} == {"civil_affairs": 1, "elderly": 1,
                                                                  "business_licensing": 1}
