"""Department assessment (考核): each indicator on crafted rows, weights from settings,
renormalisation, ranking order, storage (upsert), scope, trend and the XLSX export."""

from __future__ import annotations

import datetime
import io
import sys
import types

import openpyxl
import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.identity.factories import make_department
from tests.oversight import test_stats_builders as b
from tongban.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.exchange.models import AccessRequest
from tongban.identity.access import ANONYMOUS
from tongban.onestop.models import Application
from tongban.oversight.models import AssessmentScore
from tongban.oversight.services import assessment

pytestmark = pytest.mark.django_db
S = Application.Status
R = AccessRequest.Status


@pytest.fixture
def data_quality(monkeypatch):
    """``quality.department_quality`` answers from this dict (department code → score)."""
    scores: dict[str, float] = {}

    def department_quality(department_id):
        from tongban.identity.models import Department

        return scores.get(Department.objects.get(pk=department_id).code)

    monkeypatch.setitem(sys.modules, "tongban.oversight.services.quality",
                        types.SimpleNamespace(department_quality=department_quality))
    return scores


@pytest.fixture
def crafted(data_quality):
    """civil provides data (2 published resources, requests answered in time or not); market
    serves applications (completed in time or late, instant approval, ratings, tickets)."""
    data_quality["civil"] = 90.0
    b.resource("civil", quality_score=80, records=2)
    b.resource("civil", quality_score=60)
    b.resource("civil", quality_score=0, status="draft")  # not published: not counted
    b.request("civil", "health", submitted=b.at(3), due_on=b.day(12), status=R.APPROVED, decided=b.at(11))  # in time
    b.request("civil", "health", submitted=b.at(3), due_on=b.day(12), status=R.REJECTED, decided=b.at(15))  # late
    b.request("civil", "health", submitted=b.at(4), due_on=b.day(12))  # pending past the due date: late
    b.request("civil", "health", submitted=b.at(4), due_on=b.today() + datetime.timedelta(days=30))  # not judged
    b.request("civil", "health", submitted=b.at(5), due_on=None, status=R.APPROVED, decided=b.at(5))  # open share
    b.request("civil", "health", submitted=b.at(5), due_on=b.day(12), status=R.WITHDRAWN)  # withdrawn
    before = b.at(1) - datetime.timedelta(days=5)
    b.request("civil", "health", submitted=before, due_on=b.day(1), status=R.APPROVED, decided=b.at(20))  # other period

    item = b.service("market")
    on_time = b.application(item, submitted=b.at(2), completed=b.at(10), due_on=b.day(12))
    late = b.application(item, submitted=b.at(2), completed=b.at(20), due_on=b.day(12))
    instant = b.application(item, submitted=b.at(6), completed=b.at(6), instant=True, reused=2)
    b.application(item, status=S.UNDER_REVIEW, submitted=b.at(3), due_on=b.day(14))  # running past due: late
    b.application(item, status=S.DRAFT)
    b.rating(on_time, 5, when=b.at(11))
    fixed = b.rating(late, 2, when=b.at(21))
    b.ticket(fixed, due_on=b.day(27), replied=b.at(24))  # in time
    ignored = b.rating(instant, 1, when=b.at(7))
    b.ticket(ignored, due_on=b.day(20))  # open past the due date: late
    make_department("health")


def indicators(period=b.PERIOD):
    departments = {d.pk: d.code for d in make_department("civil").__class__.objects.all()}
    return {departments[k]: v for k, v in assessment.indicators_by_department(assessment.period_window(period)).items()}


def test_indicators_on_crafted_rows(crafted):
    found = indicators()
    assert set(found) == {"civil", "market"}  # health only consumes: nothing to assess
    civil = found["civil"]
    assert civil["catalog_completeness"] == 50.0  # 1 of 2 published resources has records
    assert civil["metadata_quality"] == 70.0  # mean of the stored scores 80 and 60
    assert civil["data_quality"] == 90.0
    assert civil["sharing_responsiveness"] == 33.3  # 1 in time of 3 judged
    assert civil["service_in_time"] is None and civil["service_rating"] is None
    market = found["market"]
    assert market["service_in_time"] == 50.0  # 2 in time (one instant, no due date) of 3 completed + 1 overdue
    assert market["service_instant"] == 25.0  # 1 of 4 submitted
    assert market["service_rating"] == pytest.approx(53.3)  # (5 + 2 + 1) / 3 of 5
    assert market["service_rectification"] == 50.0  # one replied in time, one open past its date
    assert market["catalog_completeness"] is None and market["data_quality"] is None


def test_other_periods_count_only_their_own_events(crafted):
    b.request("civil", "health", submitted=b.at(20) - datetime.timedelta(days=40), due_on=b.day(2),
              status=R.APPROVED, decided=b.at(2))
    earlier = (b.day(1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    found = indicators(earlier)
    assert found["civil"]["sharing_responsiveness"] == 50.0  # the early one late, this one in time
    assert "market" not in found  # nothing of market's happened then


def test_metadata_quality_is_assessed_when_no_score_is_stored(data_quality):
    from tongban.catalog.quality import assess

    unscored = b.resource("civil", quality_score=None)
    assert indicators()["civil"]["metadata_quality"] == float(assess(unscored)["percent"])


def test_missing_quality_module_means_not_applicable(monkeypatch):
    monkeypatch.setitem(sys.modules, "tongban.oversight.services.quality", None)  # import raises ImportError
    b.resource("civil", records=1)
    assert indicators()["civil"]["data_quality"] is None


def test_total_renormalises_over_applicable_indicators():
    used = {"a": 10, "b": 30, "c": 0}
    assert assessment.total_of({"a": 80.0, "b": None, "c": 0.0}, used) == 80.0
    assert assessment.total_of({"a": 80.0, "b": 40.0}, used) == 50.0
    assert assessment.total_of({"a": None, "b": None}, used) is None


def test_compute_ranks_and_upserts(crafted):
    scores = assessment.compute(b.PERIOD)
    assert [(s.department.code, s.rank) for s in scores] == [("civil", 1), ("market", 2)]
    civil, market = scores
    # civil: (15×50 + 10×70 + 20×90 + 20×33.3) / 65; market: (15×50 + 5×25 + 10×53.3 + 5×50) / 35
    assert civil.total == pytest.approx((15 * 50 + 10 * 70 + 20 * 90 + 20 * 33.3) / 65, abs=0.01)
    assert market.total == pytest.approx((15 * 50 + 5 * 25 + 10 * 53.3 + 5 * 50) / 35, abs=0.01)
    assert civil.weights == assessment.weights() and civil.indicators["service_rating"] is None
    assessment.compute(b.PERIOD)
    assert AssessmentScore.objects.filter(period=b.PERIOD).count() == 2  # upserted, not duplicated


def test_weights_from_settings_change_the_order(crafted, settings):
    settings.TONGBAN_ASSESSMENT_WEIGHTS = {"catalog_completeness": 0, "metadata_quality": 0, "data_quality": 0,
                                           "service_rating": 0, "service_rectification": 0, "service_instant": 0}
    scores = {s.department.code: s for s in assessment.compute(b.PERIOD)}
    assert scores["civil"].total == 33.3 and scores["market"].total == 50.0
    assert scores["market"].rank == 1 and scores["civil"].rank == 2
    assert scores["civil"].weights["catalog_completeness"] == 0.0


def test_bad_weights_are_a_configuration_error(settings):
    settings.TONGBAN_ASSESSMENT_WEIGHTS = {"speed": 10}
    with pytest.raises(ImproperlyConfigured):
        assessment.weights()
    settings.TONGBAN_ASSESSMENT_WEIGHTS = {"data_quality": -1}
    with pytest.raises(ImproperlyConfigured):
        assessment.weights()


def test_periods_months_and_quarters():
    window = assessment.period_window("2026-12")
    assert (window.start, window.end) == (datetime.date(2026, 12, 1), datetime.date(2027, 1, 1))
    window = assessment.period_window("2026-Q4")
    assert (window.start, window.end) == (datetime.date(2026, 10, 1), datetime.date(2027, 1, 1))
    for bad in ("2026-13", "2026-1", "26-01", "2026-Q5", "x"):
        with pytest.raises(InvalidInput) as error:
            assessment.period_window(bad)
        assert error.value.code == "invalid_period"
    assert assessment.previous_period(datetime.date(2026, 1, 15)) == "2025-12"


def test_scheduled_run_finishes_the_previous_month_on_the_first(crafted):
    first = b.day(1).replace(day=1)
    next_month = (first + datetime.timedelta(days=32)).replace(day=1)
    assert assessment.scheduled(next_month) == [b.PERIOD, next_month.strftime("%Y-%m")]
    assert AssessmentScore.objects.filter(period=b.PERIOD).count() == 2
    assert assessment.scheduled(next_month + datetime.timedelta(days=3)) == [next_month.strftime("%Y-%m")]


def test_ranking_scope(crafted):
    assessment.compute(b.PERIOD)
    full = assessment.ranking(b.bureau_actor(), b.PERIOD)
    assert full["stored"] and [r["department"]["code"] for r in full["rows"]] == ["civil", "market"]
    assert full["periods"] == [b.PERIOD] and len(full["indicators"]) == len(assessment.INDICATORS)
    assert [r["rank"] for r in assessment.ranking(b.auditor_actor(), b.PERIOD)["rows"]] == [1, 2]
    own = assessment.ranking(b.actor("market", "clerk"), None)  # the newest stored period
    assert own["period"] == b.PERIOD and [(r["department"]["code"], r["rank"]) for r in own["rows"]] == [("market", 2)]
    assert assessment.ranking(b.actor("health", "approver"), b.PERIOD)["rows"] == []
    with pytest.raises(PermissionDenied):
        assessment.ranking(b.citizen_actor(), b.PERIOD)
    with pytest.raises(NotAuthenticated):
        assessment.ranking(ANONYMOUS, b.PERIOD)
    with pytest.raises(PermissionDenied):  # read only
        assessment.compute_for(b.auditor_actor(), b.PERIOD)
    with pytest.raises(PermissionDenied):
        assessment.compute_for(b.actor("civil", "dept_admin"), b.PERIOD)


def test_ranking_evaluates_an_unstored_period_without_storing(crafted):
    preview = assessment.ranking(b.bureau_actor(), b.PERIOD)
    assert not preview["stored"] and [r["department"]["code"] for r in preview["rows"]] == ["civil", "market"]
    assert not AssessmentScore.objects.exists()


def test_trend_of_a_department(crafted):
    assessment.compute(b.PERIOD)
    earlier = (b.day(1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    assessment.compute(earlier)
    trend = assessment.trend(b.bureau_actor(), "civil")
    assert [p["period"] for p in trend["points"]] == [earlier, b.PERIOD]
    assert trend["points"][1]["rank"] == 1 and trend["department"]["code"] == "civil"
    assert len(assessment.trend(b.actor("civil", "steward"), "civil", periods=1)["points"]) == 1
    with pytest.raises(PermissionDenied):
        assessment.trend(b.actor("market", "clerk"), "civil")
    with pytest.raises(NotFound):
        assessment.trend(b.bureau_actor(), "nowhere")


def test_xlsx_export_has_every_row_and_neutralises_formulas(crafted):
    civil = make_department("civil")
    civil.name = '=HYPERLINK("http://evil.example","点我")'
    civil.save()
    assessment.compute(b.PERIOD)
    book = openpyxl.load_workbook(io.BytesIO(assessment.export_xlsx(b.bureau_actor(), b.PERIOD)))
    assert book.sheetnames == ["排名 Ranking", "权重 Weights"]
    rows = list(book["排名 Ranking"].iter_rows(values_only=True))
    assert rows[0][:5] == ("排名 Rank", "部门编码 Department code", "部门 Department", "考核周期 Period", "总分 Total")
    assert "数据挂接率 Catalog completeness (resources with records)" in rows[0]
    assert [r[1] for r in rows[1:]] == ["civil", "market"] and rows[1][0] == 1
    assert rows[1][2] == "'" + civil.name  # shown as text, never evaluated
    assert rows[1][4] == pytest.approx(AssessmentScore.objects.get(department=civil).total)
    column = rows[0].index("共享申请按时答复率 Sharing requests answered in time")
    assert rows[1][column] == 33.3 and rows[2][column] is None
    weights = list(book["权重 Weights"].iter_rows(values_only=True))
    assert weights[0] == ("指标 Indicator", "名称 Name", "权重 Weight", "占比（%） Share (%)")
    assert {w[0]: w[2] for w in weights[1:9]} == assessment.weights()
    own = openpyxl.load_workbook(io.BytesIO(assessment.export_xlsx(b.actor("market", "clerk"), b.PERIOD)))
    assert [r[1] for r in own["排名 Ranking"].iter_rows(min_row=2, values_only=True)] == ["market"]


def test_command_computes_and_prints_the_ranking(crafted):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("oversight", "assessment", "--period", b.PERIOD, stdout=out)
    text = out.getvalue()
    assert f"assessment 考核 {b.PERIOD}" in text and "civil" in text and "market" in text
    assert AssessmentScore.objects.filter(period=b.PERIOD).count() == 2
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("oversight", "assessment", "--period", "2026/11", stdout=io.StringIO())


def test_the_nightly_task_is_registered():
    from huey.contrib.djhuey import HUEY

    import tongban.oversight.tasks  # noqa: F401

    assert any(name.endswith("tongban.oversight.assessment") for name in HUEY._registry._registry)
