"""Catalog lifecycle: authorization, validation, review, versioning, the ledger."""

from __future__ import annotations

import pytest

from tests.catalog.factories import bureau, enterprise_items, person_items, publish, resource_data, steward
from tests.identity.factories import make_citizen_user, make_department, make_official
from tongban.catalog import services
from tongban.catalog.models import Resource, ReviewComment
from tongban.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


def test_steward_creates_a_draft_with_a_department_code():
    market = steward("market")
    first = services.create_resource(market, resource_data())
    second = services.create_resource(market, resource_data(name="企业登记信息", items=enterprise_items()))
    assert first.code == "market-00001" and second.code == "market-00002"
    assert first.status == "draft" and first.version == 1
    assert first.created_by == market.username
    items = services.items_of(first)
    assert [i.key for i in items] == ["id_number", "name", "sex"]
    assert items[0].data_element.identifier == "DE00001"  # bound to the standard element
    assert items[0].required  # a subject key is always required
    assert services.subject_kind(first) == "citizen"
    assert services.subject_kind(second) == "enterprise"


def test_codes_are_per_department():
    assert services.create_resource(steward("civil"), resource_data()).code == "civil-00001"
    assert services.create_resource(steward("health"), resource_data()).code == "health-00001"


@pytest.mark.parametrize("make_actor", [
    lambda: ANONYMOUS,
    lambda: actor_for_user(make_citizen_user("c1")),
    lambda: actor_for_user(make_official("clerk1", make_department("market"), ["clerk"])),
    lambda: bureau(),
])
def test_only_stewards_create(make_actor):
    actor = make_actor()
    with pytest.raises((PermissionDenied, NotAuthenticated)):
        services.create_resource(actor, resource_data())


def test_missing_sharing_basis_is_refused_unless_open_share():
    market = steward()
    with pytest.raises(InvalidInput) as error:
        services.create_resource(market, resource_data(sharing_basis=""))
    assert error.value.code == "sharing_basis_required"
    with pytest.raises(InvalidInput) as error:
        services.create_resource(market, resource_data(sharing="no_share", opening="closed", sharing_basis=" "))
    assert error.value.code == "sharing_basis_required"
    assert services.create_resource(market, resource_data(sharing="open_share", sharing_basis="")).pk


def test_two_subject_keys_are_refused():
    items = person_items() + [{"key": "uscc", "name": "统一社会信用代码", "data_type": "uscc", "is_subject_key": True}]
    with pytest.raises(InvalidInput) as error:
        services.create_resource(steward(), resource_data(items=items))
    assert error.value.code == "multiple_subject_keys"


def test_subject_key_is_required_and_must_be_an_identifier():
    items = [{"key": "name", "name": "姓名", "data_element": "DE00002"}]
    with pytest.raises(InvalidInput) as error:
        services.create_resource(steward(), resource_data(items=items))
    assert error.value.code == "subject_key_required"
    items[0]["is_subject_key"] = True
    with pytest.raises(InvalidInput) as error:
        services.create_resource(steward(), resource_data(items=items))
    assert error.value.code == "invalid_subject_key"


def test_every_problem_is_listed():
    items = person_items() + [{"key": "Bad Key", "name": ""}, {"key": "name", "name": "重复"}]
    with pytest.raises(InvalidInput) as error:
        services.create_resource(steward(), resource_data(sharing_basis="", opening="nonsense", items=items))
    codes = {p["code"] for p in error.value.details["errors"]}
    assert {"sharing_basis_required", "invalid_choice", "invalid_item_key", "field_required",
            "duplicate_item_key"} <= codes


def test_no_share_cannot_be_open():
    with pytest.raises(InvalidInput) as error:
        services.create_resource(steward(), resource_data(sharing="no_share", opening="open"))
    assert error.value.code == "inconsistent_classes"


def test_lifecycle_submit_reject_resubmit_publish_records_the_ledger():
    market, reviewer = steward(), bureau()
    resource = services.create_resource(market, resource_data())
    before = LedgerEvent.objects.count()
    services.submit(market, resource.code)
    with pytest.raises(InvalidInput) as error:
        services.review(reviewer, resource.code, approve=False)
    assert error.value.code == "comment_required"
    rejected = services.review(reviewer, resource.code, approve=False, comment="共享依据请写明条款")
    assert rejected.status == "draft"
    services.update_draft(market, resource.code, resource_data(sharing_basis="《浙江省公共数据条例》第二十四条第二款"))
    services.submit(market, resource.code)
    published = services.review(reviewer, resource.code, approve=True)
    assert published.status == "published" and published.published_at
    assert published.quality["percent"] == published.quality_score > 0
    decisions = list(ReviewComment.objects.filter(resource=published).values_list("decision", flat=True))
    assert decisions == ["submit", "reject", "submit", "publish"]
    actions = list(LedgerEvent.objects.order_by("pk").values_list("action", flat=True)[before:])
    assert actions == ["catalog.resource_submitted", "catalog.resource_rejected", "catalog.resource_submitted",
                       "catalog.resource_published"]
    assert LedgerEvent.objects.filter(subject=f"resource:{resource.code}").count() == 4


def test_only_the_bureau_reviews():
    market = steward()
    resource = services.create_resource(market, resource_data())
    services.submit(market, resource.code)
    other_admin = actor_for_user(make_official("dept-admin", make_department("health"), ["bureau_admin"]))
    for actor in (market, other_admin, ANONYMOUS):
        with pytest.raises((PermissionDenied, NotAuthenticated)):
            services.review(actor, resource.code, approve=True)


def test_cannot_review_a_draft_or_edit_a_submission():
    market, reviewer = steward(), bureau()
    resource = services.create_resource(market, resource_data())
    with pytest.raises(Conflict):
        services.review(reviewer, resource.code, approve=True)
    services.submit(market, resource.code)
    with pytest.raises(Conflict):
        services.update_draft(market, resource.code, resource_data())


def test_another_departments_draft_is_not_found():
    resource = services.create_resource(steward("market"), resource_data())
    health = steward("health")
    with pytest.raises(NotFound):
        services.get_resource(health, resource.code)
    with pytest.raises(NotFound):
        services.update_draft(health, resource.code, resource_data())
    with pytest.raises(NotFound):
        services.submit(health, resource.code)
    with pytest.raises(NotFound):
        services.get_resource(ANONYMOUS, resource.code)
    # The bureau sees every department's drafts; the provider sees its own.
    assert services.get_resource(bureau(), resource.code).pk == resource.pk


def test_revising_creates_a_new_version_and_publishing_it_supersedes_the_old():
    market, reviewer = steward(), bureau()
    v1 = publish(market, reviewer)
    v2 = services.revise(market, v1.code)
    assert (v2.version, v2.status, v2.supersedes_id) == (2, "draft", v1.pk)
    assert [i.key for i in services.items_of(v2)] == [i.key for i in services.items_of(v1)]
    with pytest.raises(Conflict) as error:
        services.revise(market, v1.code)
    assert error.value.code == "revision_exists"
    # While the revision is a draft, everyone still resolves the code to version 1.
    assert services.get_published(v1.code).pk == v1.pk
    services.update_draft(market, v1.code, resource_data(name="婚姻登记信息（2026版）"))
    services.submit(market, v1.code)
    services.review(reviewer, v1.code, approve=True)
    v1.refresh_from_db()
    assert v1.status == "superseded" and v1.name == "婚姻登记信息"  # never changed in place
    current = services.get_published(v1.code)
    assert (current.version, current.name) == (2, "婚姻登记信息（2026版）")
    assert Resource.objects.filter(code=v1.code, status="published").count() == 1
    assert [v.version for v in services.versions_of(market, current)] == [2, 1]


def test_published_rows_are_not_edited_in_place():
    market, reviewer = steward(), bureau()
    v1 = publish(market, reviewer)
    with pytest.raises(Conflict):
        services.update_draft(market, v1.code, resource_data(name="改名"))


def test_deprecate_needs_a_reason_and_leaves_the_catalog():
    market, reviewer = steward(), bureau()
    v1 = publish(market, reviewer)
    with pytest.raises(InvalidInput):
        services.deprecate(market, v1.code, "")
    with pytest.raises(NotFound):
        services.deprecate(steward("health"), v1.code, "不再维护")
    deprecated = services.deprecate(market, v1.code, "并入人口综合库")
    assert deprecated.status == "deprecated"
    with pytest.raises(NotFound):
        services.get_published(v1.code)
    assert services.search_resources(market, "婚姻").count == 0
    assert LedgerEvent.objects.filter(action="catalog.resource_deprecated").count() == 1


def test_public_sees_only_open_resources():
    market, reviewer = steward(), bureau()
    closed = publish(market, reviewer, opening="closed")
    opened = publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open",
                     items=enterprise_items())
    conditional = publish(market, reviewer, name="医师执业信息", opening="conditional")
    with pytest.raises(NotFound):
        services.get_resource(ANONYMOUS, closed.code)
    assert services.get_resource(ANONYMOUS, opened.code).pk == opened.pk
    assert services.get_resource(ANONYMOUS, conditional.code).pk == conditional.pk
    citizen = actor_for_user(make_citizen_user("c2"))
    assert services.get_resource(citizen, closed.code).pk == closed.pk  # signed in: every published one
    public = services.search_resources(ANONYMOUS, "")
    assert {r.code for r in public.items} == {opened.code, conditional.code}
    assert services.search_resources(citizen, "").count == 3
    assert services.search_resources(citizen, "", public_portal=True).count == 2


def test_department_list_and_review_queue():
    market, reviewer = steward(), bureau()
    draft = services.create_resource(market, resource_data())
    publish(market, reviewer, name="企业登记信息", items=enterprise_items())
    services.create_resource(steward("health"), resource_data())
    assert {r.code for r in services.department_resources(market)} == {draft.code, "market-00002"}
    services.submit(market, draft.code)
    assert [r.code for r in services.review_queue(reviewer)] == [draft.code]
    with pytest.raises(PermissionDenied):
        services.review_queue(market)
    with pytest.raises(PermissionDenied):
        services.department_resources(reviewer)


def test_paging_limits():
    with pytest.raises(InvalidInput):
        services.search_resources(ANONYMOUS, "", page_size=101)
    with pytest.raises(InvalidInput):
        services.search_resources(ANONYMOUS, "", page=0)
