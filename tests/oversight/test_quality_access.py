"""Who sees which data quality: the bureau and the auditor everything, a department its own
resources (another department's: 403 on the filter, 404 on a resource), the worst rows only for
the department's stewards and the bureau, recompute only for the bureau's administrator or CDO."""

from __future__ import annotations

import pytest

from tests.catalog.factories import bureau
from tests.exchange.factories import id_number, official, person_resource, person_row, steward
from tests.identity.factories import make_citizen_user
from tests.oversight.test_quality_services import craft, load
from tongban.core.errors import NotAuthenticated, NotFound, PermissionDenied
from tongban.identity.access import ANONYMOUS, Actor, actor_for_user
from tongban.oversight.services import quality

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    civil = person_resource("civil")
    health = person_resource("health", name="居民健康档案")
    load(civil, [person_row(1), person_row(2)])
    craft(civil, id_number(3), person_row(3, name=""))
    load(health, [person_row(1)])
    scores = {s.resource_code: s for s in quality.compute_all()}
    return {"civil": civil, "health": health, "civil_score": scores[civil.code], "health_score": scores[health.code]}


def auditor() -> Actor:
    return official("bureau", "auditor", is_bureau=True)


def test_bureau_and_auditor_see_everything(scene):
    for actor in (bureau(), auditor()):
        assert {s.resource_code for s in quality.latest(actor)} == {scene["civil"].code, scene["health"].code}
        assert [s.resource_code for s in quality.latest(actor, department="health")] == [scene["health"].code]
        assert quality.history(actor, scene["civil"].code)
    assert len(quality.issues(bureau(), scene["civil_score"].pk)) == 1
    with pytest.raises(PermissionDenied):  # the worst rows name people: not for the auditor's reading
        quality.issues(auditor(), scene["civil_score"].pk)


def test_a_department_sees_its_own_only(scene):
    civil = steward("civil")
    assert [s.resource_code for s in quality.latest(civil)] == [scene["civil"].code]
    assert [s.resource_code for s in quality.latest(civil, department="civil")] == [scene["civil"].code]
    with pytest.raises(PermissionDenied):
        quality.latest(civil, department="health")
    with pytest.raises(NotFound):
        quality.history(civil, scene["health"].code)
    with pytest.raises(NotFound):
        quality.issues(civil, scene["health_score"].pk)
    assert [i.item for i in quality.issues(civil, scene["civil_score"].pk)] == ["name"]


def test_worst_rows_only_for_stewards_of_the_department(scene):
    clerk = official("civil", "clerk")
    assert quality.history(clerk, scene["civil"].code)  # the scores, yes
    assert not quality.may_see_issues(clerk, scene["civil"].department_id)
    with pytest.raises(PermissionDenied):
        quality.issues(clerk, scene["civil_score"].pk)
    assert quality.issues(official("civil", "dept_admin"), scene["civil_score"].pk)


def test_citizens_tokens_and_strangers_see_nothing(scene):
    citizen = actor_for_user(make_citizen_user("quality-citizen"))
    system = Actor(kind="system", username="system:civil", department_id=scene["civil"].department_id,
                   department_code="civil", scopes=frozenset({"catalog:read"}))
    for actor in (citizen, system):
        with pytest.raises(PermissionDenied):
            quality.latest(actor)
        with pytest.raises(PermissionDenied):
            quality.history(actor, scene["civil"].code)
    with pytest.raises(NotAuthenticated):
        quality.latest(ANONYMOUS)
    with pytest.raises(NotFound):
        quality.latest(bureau(), department="nowhere")


def test_only_administrator_and_cdo_recompute(scene):
    for actor in (auditor(), steward("civil"), official("civil", "dept_admin")):
        with pytest.raises(PermissionDenied):
            quality.recompute(actor)
    job = quality.recompute(official("bureau", "cdo", is_bureau=True), scene["civil"].code)
    assert job.kind == "oversight.quality"
    with pytest.raises(Exception) as raised:
        quality.recompute(bureau())
    assert getattr(raised.value, "code", None) == "quality_running"


def test_recompute_of_an_unknown_or_empty_resource(scene):
    with pytest.raises(NotFound):
        quality.recompute(bureau(), "nowhere-00001")
    empty = person_resource("civil", name="空资源")
    with pytest.raises(Exception) as raised:
        quality.recompute(bureau(), empty.code)
    assert getattr(raised.value, "code", None) == "no_records"


def test_a_deprecated_resource_leaves_the_ranking(scene):
    from tongban.catalog import services as catalog

    catalog.deprecate(bureau(), scene["health"].code, "停用")
    assert [s.resource_code for s in quality.latest(bureau())] == [scene["civil"].code]
    assert quality.department_quality(scene["health"].department_id) is None
