"""Service items: validation (every rule reports its field), who may create / change / publish /
withdraw, the ledger entries, instant-approval rule versions."""

from __future__ import annotations

import pytest

from tests.exchange.factories import enterprise_resource, person_resource
from tests.onestop import factories as f
from tongban.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity.access import ANONYMOUS
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import ServiceItem
from tongban.onestop.services import items as services

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings):
    settings.TONGBAN_MFA_REQUIRED = False
    person = person_resource("civil")  # civil-00001: id_number, name, sex, phone, address, marital_status, ...
    firm = enterprise_resource("market")  # market-00001: uscc, org_name, legal_representative, registered_capital
    f.make_certificate_type("marriage_certificate", "civil", holder_kind="citizen")
    f.make_certificate_type("business_licence", "market", holder_kind="enterprise")
    return {"person": person, "firm": firm, "civil": f.actor(f.steward("civil")),
            "market": f.actor(f.steward("market"))}


def data(**over) -> dict:
    base = {
        "code": "330000-civil-T-0001", "basic_code": "000209013000", "name": "婚姻登记记录证明",
        "name_en": "Marriage record", "item_type": "confirmation", "applicant_kind": "citizen",
        "department": "civil", "legal_basis": "《婚姻登记条例》", "conditions": "本人申请。",
        "process": ["申请", {"name": "审批", "description": "自动"}], "statutory_days": 5, "promised_days": 1,
        "visits": 0, "channels": ["online"], "situations": ["new"], "theme": "civil_affairs",
        "life_events": ["marriage"], "keywords": ["婚姻"],
        "form_schema": [
            {"key": "name", "label": "姓名", "type": "text", "required": True,
             "prefill": {"resource": "civil-00001", "item": "name"}},
            {"key": "purpose", "label": "用途", "type": "choice", "options": ["购房", "落户"]},
        ],
        "materials": [
            {"name": "结婚证", "source": "certificate", "certificate_type": "marriage_certificate"},
            {"name": "婚姻登记信息", "source": "shared_data", "resource_code": "civil-00001",
             "resource_items": ["marital_status"]},
            {"name": "照片", "source": "upload", "necessity": "optional"},
            {"name": "用途说明", "source": "form", "form_section": "purpose"},
        ],
    }
    base.update(over)
    return base


def problems(error: InvalidInput) -> dict[str, str]:
    return {p["field"]: p["code"] for p in error.details["errors"]}


def test_create_valid_item_is_a_draft_with_materials_and_ledger_entry(world):
    item = services.create_item(world["civil"], data())
    assert item.status == ServiceItem.Status.DRAFT and item.department.code == "civil"
    assert [m.source for m in item.materials.all()] == ["certificate", "shared_data", "upload", "form"]
    assert item.process[0] == {"name": "申请", "name_en": "", "description": ""}
    assert item.form_schema[1]["options"] == [{"value": "购房", "label": "购房"}, {"value": "落户", "label": "落户"}]
    assert LedgerEvent.objects.filter(action="onestop.item_created", subject=f"item:{item.code}").exists()


def test_department_defaults_to_the_actor_s(world):
    payload = data()
    del payload["department"]
    assert services.create_item(world["civil"], payload).department.code == "civil"


@pytest.mark.parametrize(("over", "field", "code"), [
    ({"code": "x"}, "code", "invalid_code"),
    ({"name": ""}, "name", "field_required"),
    ({"legal_basis": "  "}, "legal_basis", "field_required"),
    ({"item_type": "permit"}, "item_type", "invalid_choice"),
    ({"applicant_kind": "alien"}, "applicant_kind", "invalid_choice"),
    ({"statutory_days": 3, "promised_days": 5}, "promised_days", "promised_exceeds_statutory"),
    ({"statutory_days": -1}, "statutory_days", "out_of_range"),
    ({"promised_days": "soon"}, "promised_days", "invalid_number"),
    ({"visits": 11}, "visits", "out_of_range"),
    ({"channels": []}, "channels", "field_required"),
    ({"channels": ["pigeon"]}, "channels", "invalid_choice"),
    ({"situations": ["reborn"]}, "situations", "invalid_choice"),
    ({"theme": "space"}, "theme", "invalid_choice"),
    ({"life_events": ["moon_landing"]}, "life_events", "invalid_choice"),
    ({"department": "nowhere"}, "department", "unknown_department"),
    ({"co_departments": ["nowhere"]}, "co_departments", "unknown_department"),
    ({"co_departments": ["civil"]}, "co_departments", "duplicate_department"),
    ({"certificate_type": "unicorn"}, "certificate_type", "unknown_certificate_type"),
    ({"certificate_type": "business_licence"}, "certificate_type", "wrong_issuer"),
    ({"process": [{"description": "no name"}]}, "process[0].name", "field_required"),
])
def test_each_rule_reports_its_field(world, over, field, code):
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(**over))
    assert caught.value.code == "invalid_item"
    assert problems(caught.value).get(field) == code
    assert not ServiceItem.objects.exists()


@pytest.mark.parametrize(("field_spec", "path", "code"), [
    ({"key": "Bad Key", "label": "x"}, "form_schema[0].key", "invalid_key"),
    ({"key": "a", "label": ""}, "form_schema[0].label", "field_required"),
    ({"key": "a", "label": "x", "type": "file"}, "form_schema[0].type", "invalid_choice"),
    ({"key": "a", "label": "x", "type": "choice"}, "form_schema[0].options", "field_required"),
    ({"key": "a", "label": "x", "prefill": {"resource": "civil-09999", "item": "name"}},
     "form_schema[0].prefill.resource", "unknown_resource"),
    ({"key": "a", "label": "x", "prefill": {"resource": "civil-00001", "item": "shoe_size"}},
     "form_schema[0].prefill.item", "unknown_resource_item"),
    ({"key": "a", "label": "x", "prefill": {"resource": "market-00001", "item": "org_name"}},
     "form_schema[0].prefill.resource", "wrong_subject_kind"),
    ({"key": "a", "label": "x", "prefill": "civil-00001.name"}, "form_schema[0].prefill", "invalid_prefill"),
])
def test_form_field_rules(world, field_spec, path, code):
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(form_schema=[field_spec], materials=[]))
    assert problems(caught.value).get(path) == code


def test_duplicate_form_keys(world):
    fields = [{"key": "a", "label": "x"}, {"key": "a", "label": "y"}]
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(form_schema=fields, materials=[]))
    assert problems(caught.value) == {"form_schema[1].key": "duplicate_key"}


@pytest.mark.parametrize(("material", "path", "code"), [
    ({"name": "", "source": "upload"}, "materials[0].name", "field_required"),
    ({"name": "x", "source": "fax"}, "materials[0].source", "invalid_choice"),
    ({"name": "x", "source": "upload", "necessity": "maybe"}, "materials[0].necessity", "invalid_choice"),
    ({"name": "x", "source": "certificate", "certificate_type": "unicorn"}, "materials[0].certificate_type",
     "unknown_certificate_type"),
    ({"name": "x", "source": "certificate", "certificate_type": "business_licence"},
     "materials[0].certificate_type", "wrong_holder_kind"),
    ({"name": "x", "source": "shared_data", "resource_code": "civil-09999", "resource_items": ["name"]},
     "materials[0].resource_code", "unknown_resource"),
    ({"name": "x", "source": "shared_data", "resource_code": "civil-00001", "resource_items": ["shoe_size"]},
     "materials[0].resource_items", "unknown_resource_item"),
    ({"name": "x", "source": "shared_data", "resource_code": "civil-00001", "resource_items": []},
     "materials[0].resource_items", "unknown_resource_item"),
    ({"name": "x", "source": "shared_data", "resource_code": "market-00001", "resource_items": ["org_name"]},
     "materials[0].resource_code", "wrong_subject_kind"),
    ({"name": "x", "source": "form", "form_section": "nope"}, "materials[0].form_section", "unknown_form_field"),
    ({"name": "x", "source": "upload", "paper_copies": 99}, "materials[0].paper_copies", "out_of_range"),
])
def test_material_rules(world, material, path, code):
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(materials=[material]))
    assert problems(caught.value).get(path) == code


def test_every_problem_is_reported_at_once(world):
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(item_type="x", visits=99, channels=[], theme="space"))
    assert set(problems(caught.value)) == {"item_type", "visits", "channels", "theme"}


def test_codes_are_unique(world):
    services.create_item(world["civil"], data())
    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data())
    assert problems(caught.value) == {"code": "duplicate_code"}


def test_code_may_not_be_an_identifier(world):
    from tests.exchange.factories import id_number

    with pytest.raises(InvalidInput) as caught:
        services.create_item(world["civil"], data(code=id_number(5)))
    assert problems(caught.value) == {"code": "invalid_code"}


def test_enterprise_item_with_enterprise_sources(world):
    item = services.create_item(world["market"], data(
        code="330000-market-T-0001", department="market", applicant_kind="enterprise", theme="market_entry",
        certificate_type="business_licence", co_departments=["civil"],
        form_schema=[{"key": "org_name", "label": "名称", "prefill": {"resource": "market-00001", "item": "org_name"}}],
        materials=[{"name": "营业执照", "source": "certificate", "certificate_type": "business_licence"}]))
    assert list(item.co_departments.values_list("code", flat=True)) == ["civil"]


# --- who may do what -----------------------------------------------------------------------------------------


def test_only_stewards_dept_admins_and_the_bureau_maintain_items(world):
    with pytest.raises(NotAuthenticated):
        services.create_item(ANONYMOUS, data())
    citizen, _ = f.citizen_applicant()
    with pytest.raises(PermissionDenied):
        services.create_item(f.actor(citizen), data())
    with pytest.raises(PermissionDenied):
        services.create_item(f.actor(f.clerk("civil")), data())
    with pytest.raises(PermissionDenied):  # another department's item
        services.create_item(world["market"], data())
    assert services.create_item(f.actor(f.dept_admin("civil")), data()).status == "draft"
    assert services.create_item(f.actor(f.bureau_admin()), data(code="330000-civil-T-0002")).department.code == "civil"


def test_another_department_cannot_see_a_draft_or_change_a_published_item(world):
    services.create_item(world["civil"], data())
    with pytest.raises(NotFound):
        services.publish(world["market"], "330000-civil-T-0001")
    with pytest.raises(NotFound):
        services.get_item(world["market"], "330000-civil-T-0001")
    with pytest.raises(NotFound):
        services.get_published_item("330000-civil-T-0001")
    services.publish(world["civil"], "330000-civil-T-0001")
    with pytest.raises(PermissionDenied):
        services.update_item(world["market"], "330000-civil-T-0001", {"name": "改"})
    with pytest.raises(PermissionDenied):
        services.withdraw(world["market"], "330000-civil-T-0001")
    assert services.get_item(world["market"], "330000-civil-T-0001").status == "published"


def test_publish_and_withdraw_transitions(world):
    services.create_item(world["civil"], data())
    with pytest.raises(Conflict):
        services.withdraw(world["civil"], "330000-civil-T-0001")
    item = services.publish(world["civil"], "330000-civil-T-0001")
    assert services.get_published_item(item.code) == item
    with pytest.raises(Conflict):
        services.publish(world["civil"], item.code)
    services.withdraw(world["civil"], item.code, "政策调整")
    with pytest.raises(NotFound):
        services.get_published_item(item.code)
    assert services.publish(f.actor(f.bureau_admin()), item.code).status == "published"
    actions = list(LedgerEvent.objects.filter(subject=f"item:{item.code}").order_by("pk").values_list("action", flat=True))
    assert actions == ["onestop.item_created", "onestop.item_published", "onestop.item_withdrawn",
                       "onestop.item_published"]


def test_publish_rechecks_the_item(world):
    item = f.service_item("civil", status="draft", promised_days=5, statutory_days=3)
    with pytest.raises(InvalidInput):
        services.publish(world["civil"], item.code)


def test_update_validates_the_whole_item_and_keeps_materials(world):
    item = services.create_item(world["civil"], data())
    kept = list(item.materials.values_list("pk", flat=True))
    with pytest.raises(InvalidInput) as caught:
        services.update_item(world["civil"], item.code, {"promised_days": 9})
    assert problems(caught.value) == {"promised_days": "promised_exceeds_statutory"}
    updated = services.update_item(world["civil"], item.code, {"name": "新名称", "statutory_days": 20,
                                                               "promised_days": 9})
    assert (updated.name, updated.promised_days) == ("新名称", 9)
    assert list(updated.materials.values_list("pk", flat=True)) == kept
    with pytest.raises(InvalidInput) as caught:
        services.update_item(world["civil"], item.code, {"colour": "red"})
    assert problems(caught.value) == {"colour": "unknown_field"}


def test_update_replaces_materials_keeping_ids_that_are_listed(world):
    item = services.create_item(world["civil"], data())
    first = item.materials.first()
    services.update_item(world["civil"], item.code, {"materials": [
        {"id": first.pk, "name": "电子结婚证", "source": "certificate", "certificate_type": "marriage_certificate"},
        {"name": "新材料", "source": "upload"}]})
    rows = list(item.materials.order_by("order"))
    assert [(m.pk == first.pk, m.name) for m in rows] == [(True, "电子结婚证"), (False, "新材料")]


def test_code_of_a_published_item_is_fixed(world):
    services.create_item(world["civil"], data())
    services.update_item(world["civil"], "330000-civil-T-0001", {"code": "330000-civil-T-0009"})
    services.publish(world["civil"], "330000-civil-T-0009")
    with pytest.raises(InvalidInput) as caught:
        services.update_item(world["civil"], "330000-civil-T-0009", {"code": "330000-civil-T-0010"})
    assert problems(caught.value) == {"code": "code_fixed"}


def test_department_items(world):
    services.create_item(world["civil"], data())
    f.service_item("market")
    assert [i.code for i in services.department_items(world["civil"])] == ["330000-civil-T-0001"]
    assert len(services.department_items(f.actor(f.bureau_admin()))) == 2
