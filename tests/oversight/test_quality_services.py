"""Data quality computed from the records: each dimension on crafted records, the weighted
score, history, the worst rows, streaming progress, the daily task and the recompute job."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.catalog.factories import bureau, publish
from tests.exchange.factories import (
    PERSON_ITEMS,
    enterprise_resource,
    enterprise_row,
    id_number,
    person_resource,
    person_row,
    steward,
)
from tongban.core.models import Job
from tongban.exchange.models import Batch, Record
from tongban.exchange.services.records import load_records
from tongban.oversight.models import QualityScore
from tongban.oversight.services import quality
from tongban.oversight.services import quality_checks as checks

pytestmark = pytest.mark.django_db

CERT_ITEMS = [
    {"key": "id_number", "name": "公民身份号码", "data_type": "id_number", "is_subject_key": True},
    {"key": "name", "name": "姓名", "data_element": "DE00002", "required": True},
    {"key": "certificate_number", "name": "证照编号", "data_element": "DE00018", "required": True},
]


def load(resource, rows) -> Batch:
    return load_records(steward(resource.department.code), resource.code, rows)


def craft(resource, subject: str, data: dict) -> Record:
    """A record the loader would refuse (written as if by an older load or an outside system)."""
    batch = Batch.objects.filter(resource_code=resource.code).first()
    return Record.objects.create(resource_code=resource.code, subject=subject, data=data, seq=10_000 + Record.objects.count(),
                                 batch=batch, updated_at=timezone.now())


def loaded_at(resource) -> datetime.datetime:
    return Batch.objects.filter(resource_code=resource.code).latest("created_at").created_at


def x_id_number() -> str:
    """A sample ID number whose check character is X."""
    return next(number for n in range(500, 5000) if (number := id_number(n)).endswith("X"))


# --- the dimensions --------------------------------------------------------------------------------------------


def test_completeness_counts_required_items_over_every_record():
    resource = person_resource("civil")
    load(resource, [person_row(n) for n in range(1, 5)])
    craft(resource, id_number(5), person_row(5, name=""))
    score = quality.compute_resource(resource.code)
    assert score.records == 5
    assert score.completeness == 90.0  # name and marital status required: 9 of 10 cells filled
    assert score.details["completeness"] == {"required": ["name", "marital_status"], "cells": 10, "filled": 9}
    assert score.details["items"]["name"]["empty"] == 1
    [issue] = score.issues.all()
    assert (issue.dimension, issue.subject, issue.item) == ("completeness", id_number(5), "name")
    assert "姓名" in issue.problem and "missing" in issue.problem


def test_completeness_uses_every_item_when_none_is_required():
    items = [{**item, "required": False} for item in CERT_ITEMS]
    resource = publish(steward("civil"), bureau(), name="证照信息", items=items)
    load(resource, [{"id_number": id_number(1), "name": "张一", "certificate_number": ""},
                    {"id_number": id_number(2), "name": "张二", "certificate_number": "C2"}])
    assert quality.compute_resource(resource.code).completeness == 75.0  # the subject key aside: 3 of 4


def test_validity_checks_code_lists_and_checksums():
    resource = person_resource("civil")
    load(resource, [person_row(n) for n in range(1, 4)])
    craft(resource, id_number(4), person_row(4, sex="X"))  # not a GB/T 2261.1 code
    good = id_number(5)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check character
    craft(resource, bad, person_row(5, id_number=bad))
    score = quality.compute_resource(resource.code)
    assert score.details["validity"] == {"values": 35, "valid": 33}
    assert score.validity == round(100 * 33 / 35, 2)
    assert score.details["items"]["sex"]["invalid"] == 1 and score.details["items"]["id_number"]["invalid"] == 1
    problems = {(i.subject, i.item): i.problem for i in score.issues.all()}
    assert "代码集" in problems[(id_number(4), "sex")]
    assert (bad, "id_number") in problems


def test_timeliness_against_the_update_cycle():
    assert checks.timeliness("irregular", None, timezone.now()) is None
    start = timezone.now()
    day = datetime.timedelta(days=1)
    assert checks.timeliness("daily", start, start + 1.5 * day) == 100.0  # within the cycle and its grace
    assert checks.timeliness("daily", start, start + 2.5 * day) == 50.0
    assert checks.timeliness("daily", start, start + 3 * day) == 0.0  # three cycles
    assert checks.timeliness("weekly", start, start + 8 * day) == 100.0
    assert checks.timeliness("weekly", start, start + 14 * day) == round(100 * 7 / 13, 2)
    assert checks.timeliness("monthly", None, start) == 0.0  # never loaded


def test_a_stale_load_scores_zero_and_irregular_is_not_applicable():
    stale = person_resource("civil")
    load(stale, [person_row(1)])
    score = quality.compute_resource(stale.code, now=loaded_at(stale) + datetime.timedelta(days=10))
    assert score.timeliness == 0.0 and score.details["timeliness"]["age_days"] == 10.0
    fresh = quality.compute_resource(stale.code, now=loaded_at(stale) + datetime.timedelta(hours=3))
    assert fresh.timeliness == 100.0

    irregular = person_resource("hr", update_cycle="irregular")
    load(irregular, [person_row(1)])
    assert quality.compute_resource(irregular.code).timeliness is None


def test_uniqueness_finds_duplicate_certificate_numbers_and_normalised_subjects():
    resource = publish(steward("civil"), bureau(), name="证照信息", items=CERT_ITEMS)
    with_x = x_id_number()
    load(resource, [{"id_number": id_number(1), "name": "张一", "certificate_number": "C-001"},
                    {"id_number": id_number(2), "name": "张二", "certificate_number": "C-002"},
                    {"id_number": id_number(3), "name": "张三", "certificate_number": "C-003"},
                    {"id_number": with_x, "name": "张叉", "certificate_number": "C-004"}])
    craft(resource, id_number(6), {"id_number": id_number(6), "name": "张六", "certificate_number": " c-001"})
    craft(resource, with_x.lower(), {"id_number": with_x.lower(), "name": "张叉", "certificate_number": "C-005"})
    score = quality.compute_resource(resource.code)
    assert score.records == 6
    assert score.details["uniqueness"] == {"keys": ["id_number", "certificate_number"], "duplicate_records": 4}
    assert score.uniqueness == round(100 * 2 / 6, 2)
    assert score.details["items"]["certificate_number"]["duplicates"] == 2
    assert score.details["items"]["id_number"]["duplicates"] == 2
    flagged = {(i.subject, i.item) for i in score.issues.filter(dimension="uniqueness")}
    assert flagged == {(id_number(1), "certificate_number"), (id_number(6), "certificate_number"),
                       (with_x, "id_number"), (with_x.lower(), "id_number")}


def test_consistency_compares_the_same_element_by_subject_across_resources():
    civil = person_resource("civil")
    health = person_resource("health", name="居民健康档案", sharing="open_share")
    secret = person_resource("health", name="艾滋病随访登记", sharing="no_share")
    load(civil, [person_row(n) for n in range(1, 4)])
    load(health, [person_row(1), person_row(2, name="李二"), person_row(3)])
    load(secret, [person_row(1, name="张冒"), person_row(3)])
    score = quality.compute_resource(civil.code)
    # Only resources the department may read are compared: the 不予共享 register is not (comparing
    # with it would tell the steward who is in it).
    # name (DE00002) and sex (DE00003) of three shared subjects: six comparisons, one disagrees
    assert score.details["consistency"] == {"compared": 6, "agreeing": 5, "with": [health.code]}
    assert score.consistency == round(100 * 5 / 6, 2)
    [issue] = score.issues.filter(dimension="consistency")
    assert (issue.subject, issue.item) == (id_number(2), "name") and health.code in issue.problem

    alone = enterprise_resource("market")
    load(alone, [enterprise_row(1)])
    assert quality.compute_resource(alone.code).consistency is None  # no other resource holds its subjects


def test_consistency_not_applicable_without_shared_subjects():
    civil = person_resource("civil")
    health = person_resource("health", name="居民健康档案")
    load(civil, [person_row(1)])
    load(health, [person_row(2)])
    assert quality.compute_resource(civil.code).consistency is None


# --- the score, history, worst rows ------------------------------------------------------------------------------


def test_score_is_the_weighted_mean_of_applicable_dimensions(settings):
    resource = person_resource("civil", update_cycle="irregular")
    load(resource, [person_row(n) for n in range(1, 4)])
    craft(resource, id_number(4), person_row(4, name="", sex="X"))
    score = quality.compute_resource(resource.code)
    used = checks.DEFAULT_WEIGHTS
    parts = {"completeness": score.completeness, "validity": score.validity, "uniqueness": score.uniqueness}
    expected = sum(used[k] * v for k, v in parts.items()) / sum(used[k] for k in parts)
    assert score.timeliness is None and score.consistency is None
    assert score.score == round(expected, 2) and score.details["weights"] == used

    settings.TONGBAN_QUALITY_WEIGHTS = {"completeness": 1, "validity": 0, "uniqueness": 0}
    weighted = quality.compute_resource(resource.code)
    assert weighted.score == weighted.completeness == 87.5


def test_each_computation_is_kept_as_history():
    resource = person_resource("civil")
    load(resource, [person_row(1), person_row(2)])
    first = quality.compute_resource(resource.code, now=timezone.now() - datetime.timedelta(days=1))
    craft(resource, id_number(3), person_row(3, name=""))
    second = quality.compute_resource(resource.code)
    assert QualityScore.objects.filter(resource_code=resource.code).count() == 2
    admin = bureau()
    assert [s.pk for s in quality.history(admin, resource.code)] == [second.pk, first.pk]
    assert [s.pk for s in quality.latest(admin)] == [second.pk]
    assert first.issues.count() == 0 and second.issues.count() == 1


def test_worst_rows_are_capped_and_the_worst_come_first():
    resource = person_resource("civil")
    load(resource, [person_row(1)])
    for n in range(2, 62):
        craft(resource, id_number(n), person_row(n, name=""))
    craft(resource, id_number(99), person_row(99, name="", sex="X", marital_status=""))
    score = quality.compute_resource(resource.code)
    found = list(score.issues.order_by("pk"))
    assert len(found) == checks.MAX_ISSUES
    assert {i.item for i in found[:3]} == {"name", "sex", "marital_status"} and found[0].subject == id_number(99)


def test_progress_is_reported_per_chunk(monkeypatch):
    resource = person_resource("civil")
    load(resource, [person_row(n) for n in range(1, 26)])
    monkeypatch.setattr(checks, "CHUNK", 10)
    calls = []
    quality.compute_resource(resource.code, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(10, 25), (20, 25), (25, 25)]


def test_compute_all_covers_published_resources_with_records_and_department_means():
    civil = person_resource("civil")
    empty = person_resource("civil", name="空资源")
    market = enterprise_resource("market")
    load(civil, [person_row(1), person_row(2)])
    craft(civil, id_number(3), person_row(3, name="", sex="X"))
    load(market, [enterprise_row(1)])
    seen = []
    scores = quality.compute_all(progress=lambda code, done, total: seen.append(code))
    assert sorted(s.resource_code for s in scores) == sorted([civil.code, market.code])
    assert empty.code not in seen and set(seen) == {civil.code, market.code}
    assert quality.department_quality(civil.department_id) == next(s.score for s in scores if s.resource_code == civil.code)
    assert quality.department_means()[market.department_id] == next(s.score for s in scores
                                                                     if s.resource_code == market.code)
    assert quality.department_quality(bureau().department_id) is None


def test_a_resource_without_records_is_refused():
    resource = person_resource("civil")
    with pytest.raises(Exception) as raised:
        quality.compute_resource(resource.code)
    assert getattr(raised.value, "code", None) == "no_records"


def test_daily_task_and_recompute_job(django_capture_on_commit_callbacks):
    resource = person_resource("civil")
    load(resource, [person_row(1)])
    assert quality.quality_daily.call_local() == 1
    with django_capture_on_commit_callbacks(execute=True):
        job = quality.recompute(bureau(), resource.code)
    job = Job.objects.get(pk=job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.result["count"] == 1
    assert (job.done, job.total) == (1, 1)
    assert QualityScore.objects.filter(resource_code=resource.code).count() == 2


def test_items_without_a_person_sample_still_measure():
    """A resource bound to elements nobody else uses has no consistency and still scores."""
    items = [PERSON_ITEMS[0], {"key": "note", "name": "备注", "data_type": "string", "max_length": 5}]
    resource = publish(steward("civil"), bureau(), name="备注信息", items=items)
    load(resource, [{"id_number": id_number(1), "note": "好"}])
    craft(resource, id_number(2), {"id_number": id_number(2), "note": "太长太长太长了"})
    score = quality.compute_resource(resource.code)
    assert score.validity == 75.0 and score.consistency is None
