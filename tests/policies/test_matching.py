"""Matching: one subject with reasons (``my_policies``), and in bulk — a job that snapshots every
profile, matches set-wise, stores the matches and delivers to the subjects with accounts, once."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - fixture
from tongban.core import jsonlogic
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import Job, Notification
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.policies import engine, profiles
from tongban.policies.models import BenefitGrant, Delivery, EligibilityRule, MatchRun, Policy, ProfileSnapshot
from tongban.policies.services import delivery, matching, snapshots

pytestmark = pytest.mark.django_db


def _row_by_row(rule, holders) -> set[str]:
    out = set()
    for holder in holders:
        subject = f.subject_of(holder)
        target = "citizen" if hasattr(holder, "id_number") else "enterprise"
        if jsonlogic.truthy(jsonlogic.evaluate(rule, profiles.profile_for(target, subject))):
            out.add(subject)
    return out


@pytest.fixture
def firms():
    """Six enterprises: three qualify for SMALL_FIRM_RULE (two with accounts), three do not."""
    return {
        "small": f.enterprise("甲小微", employees=30, insured_count=28),
        "micro": f.enterprise("乙微型", employees=8, insured_count=12, certificates=["high_tech_enterprise"]),
        "no_account": f.enterprise("丙无账号", employees=50, insured_count=45, account=False),
        "large": f.enterprise("丁大型", employees=500, insured_count=480, industry="C3911", tax_grade="D"),
        "arrears": f.enterprise("戊欠费", employees=20, insured_count=18, in_arrears=True),
        "unknown": f.enterprise("己无参保", employees=20, insured_count=None),
    }


def _run(policy, who=None, **kwargs) -> dict:
    return matching.run_match([policy.pk], created_by=(who or "po-test"), **kwargs)


# --- one subject --------------------------------------------------------------------------------------------------


def test_my_policies_with_reasons_for_a_matching_and_a_non_matching_enterprise(firms):
    jobs = f.policy("hr", title="稳岗补贴")
    other = f.policy("hr", title="仅大型企业", rule={">=": [{"var": "employees"}, 300]})
    f.policy("civil", target="citizen", rule=f.ELDERLY_RULE)  # not for enterprises
    f.policy("hr", status=Policy.Status.DRAFT)  # not in the library

    mine = matching.my_policies(f.actor(firms["small"].user), matched_only=True)
    assert [e["policy"].pk for e in mine] == [jobs.pk]
    assert mine[0]["matched"] is True and mine[0]["rule_version"] == 1
    assert [r["passed"] for r in mine[0]["reasons"]] == [True, True, True]
    assert "参保人数 = 28" in mine[0]["reasons"][1]["condition"]

    everything = matching.my_policies(f.actor(firms["small"].user))
    assert [(e["policy"].pk, e["matched"]) for e in everything] == [(jobs.pk, True), (other.pk, False)]

    theirs = matching.my_policies(f.actor(firms["arrears"].user), language="en")
    assert [e["matched"] for e in theirs] == [False, False]
    verdict = {e["policy"].pk: e for e in theirs}[jobs.pk]
    assert [r["passed"] for r in verdict["reasons"]] == [True, True, False]
    assert verdict["reasons"][2]["condition"] == "Social insurance arrears = no (Social insurance arrears = yes)"
    assert verdict["amount"] is None


def test_my_policies_for_citizens_and_the_amount():
    person = f.citizen()
    care = f.policy("civil", target="citizen", rule=f.ELDERLY_RULE, mode="auto_grant",
                    benefit_amount=Decimal("1200.00"))
    (entry,) = matching.my_policies(f.actor(person.user))
    assert entry["policy"].pk == care.pk and entry["matched"] is True and entry["amount"] == Decimal("1200.00")
    young = f.citizen(birth_date=datetime.date(1990, 1, 1))
    assert matching.my_policies(f.actor(young.user), matched_only=True) == []
    with pytest.raises(PermissionDenied):
        matching.my_policies(f.actor(f.steward()))


def test_qualify_is_for_the_policys_kind_only(firms):
    jobs = f.policy("hr")
    assert matching.qualify(f.actor(firms["small"].user), jobs)["matched"] is True
    assert matching.qualify(f.actor(f.citizen().user), jobs) is None
    assert matching.qualify(f.actor(f.steward()), jobs) is None


# --- bulk ---------------------------------------------------------------------------------------------------------


def test_bulk_match_job_through_the_api(client, data_dir, django_capture_on_commit_callbacks, firms):  # noqa: F811
    jobs = f.policy("hr")
    user = f.steward()
    headers = f.auth(client, user)
    with django_capture_on_commit_callbacks(execute=True):
        started = f.post(client, f"/api/v1/policies/{jobs.pk}/match", {}, **headers)
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "queued" and body["url"] == f"/api/v1/jobs/{body['job']}"
    job = client.get(body["url"], **headers).json()
    assert job["status"] == "succeeded" and job["kind"] == "policies.match"
    assert (job["done"], job["total"], job["progress"]) == (100, 100, 1.0)
    assert job["result"]["policies"][jobs.code]["matched"] == 3
    assert job["result"]["policies"][jobs.code]["delivered"] == 2
    assert job["result"]["snapshots"]["enterprise"]["rows"] == 6
    run = MatchRun.objects.get(policy=jobs)
    assert str(run.job_id) == body["job"] and run.created_by == user.username and run.delivered == 2


def test_stored_matches_equal_the_row_by_row_evaluation(data_dir, firms):  # noqa: F811
    rules = {
        "small": f.SMALL_FIRM_RULE,
        "missing": {"!": {"==": [{"var": "insured_count"}, 28]}},
        "any": {"or": [{">": [{"var": "employees"}, 100]}, {"missing": ["insured_count"]}]},
        "revenue": {"<=": [100, {"var": "revenue"}, 1500]},
        "grade": {"==": [{"var": "tax_credit_grade"}, "D"]},
        "none": {"==": [{"var": "tax_credit_grade"}, "E"]},
        "certificate": {"in": ["high_tech_enterprise", {"var": "certificates"}]},
        "no_arrears": {"!": {"var": "in_arrears"}},
        "section": {"and": [{"in": [{"var": "industry_section"}, ["I", "C"]]}, {"<": [{"var": "years_registered"}, 10]}]},
        "not_equal": {"!=": [{"var": "insured_count"}, 28]},
        "arithmetic": {">": [{"*": [{"var": "insured_count"}, 1000]}, {"+": [{"var": "employees"}, 15000]}]},
        "default": {">=": [{"var": ["insured_count", 0]}, 0]},
    }
    policies = {name: f.policy("hr", rule=rule) for name, rule in rules.items()}
    result = matching.run_match([p.pk for p in policies.values()], created_by="test", deliver=False)
    holders = list(firms.values())
    snapshot = ProfileSnapshot.objects.get()
    path = snapshots.snapshot_path(snapshot)
    counts = {}
    for name, policy in policies.items():
        run = MatchRun.objects.get(policy=policy)
        expected = _row_by_row(rules[name], holders)
        counts[name] = len(expected)
        assert run.matched == len(expected) == result["policies"][policy.code]["matched"], name
        assert set(engine.subjects(path, run.bitmap)) == expected, name
        assert run.rule_version == 1 and run.snapshot_id == snapshot.pk and run.delivered == 0
    assert counts["none"] == 0 and counts["default"] == 6 and counts["grade"] == counts["certificate"] == 1
    assert not Delivery.objects.exists()
    (entry,) = f.ledger_entries(snapshots.BUILT)
    assert entry["payload"]["rows"] == 6 and entry["payload"]["sha256"] == snapshot.sha256
    assert snapshot.status == ProfileSnapshot.Status.READY and snapshot.rows == 6


def test_nobody_to_match(data_dir):  # noqa: F811
    jobs = f.policy("hr")
    out = _run(jobs)
    assert out["snapshots"]["enterprise"]["rows"] == 0
    assert out["policies"][jobs.code] == {"run": MatchRun.objects.get().pk, "matched": 0, "delivered": 0,
                                          "granted": 0}


def test_deliveries_go_to_subjects_with_accounts_once_per_policy(data_dir, firms):  # noqa: F811
    jobs = f.policy("hr")
    first = _run(jobs)["policies"][jobs.code]
    assert (first["matched"], first["delivered"], first["granted"]) == (3, 2, 0)
    delivered = Delivery.objects.filter(policy=jobs)
    assert {d.subject for d in delivered} == {firms["small"].uscc, firms["micro"].uscc}
    assert all(d.user_id == firms[k].user_id for k in ("small", "micro") for d in delivered
               if d.subject == firms[k].uscc)
    late = f.enterprise("庚新户", employees=12, insured_count=11)
    second = _run(jobs)["policies"][jobs.code]
    assert (second["matched"], second["delivered"]) == (4, 1)  # only the new one is notified
    assert Delivery.objects.filter(policy=jobs).count() == 3
    assert Notification.objects.filter(user=firms["small"].user, category=delivery.CATEGORY).count() == 1
    assert Delivery.objects.get(subject=late.uscc).run.pk == MatchRun.objects.order_by("-pk").first().pk


def test_the_notice_carries_the_reasons_and_the_ledger_only_a_hash(data_dir, firms):  # noqa: F811
    jobs = f.policy("hr", title="稳岗补贴")
    _run(jobs, who="po-runner")
    notice = Notification.objects.get(user=firms["small"].user)
    assert "稳岗补贴" in notice.title_zh and notice.link == f"/policies/{jobs.pk}/"
    assert notice.body_zh.startswith("符合的条件：") and "参保人数" in notice.body_zh
    assert notice.body_en.startswith("Conditions met: ")
    item = Delivery.objects.get(subject=firms["small"].uscc)
    assert item.status == Delivery.Status.NOTIFIED and item.rule_version == 1 and item.due_on is None
    assert [r["passed"] for r in item.reasons] == [True, True, True]
    entries = f.ledger_entries(delivery.DELIVERED)
    assert len(entries) == 2
    hashes = {h for e in entries for h in e["hashes"]}
    assert hashes == {ledger.subject_hash(firms["small"].uscc), ledger.subject_hash(firms["micro"].uscc)}
    for entry in entries:
        assert firms["small"].uscc not in entry["raw"] and firms["micro"].uscc not in entry["raw"]
        assert entry["actor"] == "po-runner" and entry["payload"]["mode"] == "notify"


def test_auto_grant_pays_the_formula_amount_capped(data_dir, firms):  # noqa: F811
    grant = f.policy("hr", mode="auto_grant", benefit_formula={"*": [{"var": "insured_count"}, 1000]},
                     benefit_cap=Decimal("20000.00"))
    out = _run(grant)["policies"][grant.code]
    assert (out["delivered"], out["granted"]) == (2, 2)
    amounts = {g.subject: g.amount for g in BenefitGrant.objects.filter(policy=grant)}
    assert amounts == {firms["small"].uscc: Decimal("20000.00"), firms["micro"].uscc: Decimal("12000.00")}
    item = Delivery.objects.get(subject=firms["micro"].uscc)
    assert item.status == Delivery.Status.GRANTED and item.amount == Decimal("12000.00") and item.handled_at
    granted = f.ledger_entries(delivery.GRANTED)
    assert {e["payload"]["amount"] for e in granted} == {"20000.00", "12000.00"}
    assert all(e["payload"]["currency"] == "CNY" and len(e["hashes"]) == 1 for e in granted)
    assert all(firms["micro"].uscc not in e["raw"] for e in granted)
    assert {g.ledger_event for g in BenefitGrant.objects.all()} == set(
        LedgerEvent.objects.filter(action=delivery.GRANTED).values_list("pk", flat=True))
    notice = Notification.objects.get(user=firms["micro"].user)
    assert "12,000.00" in notice.title_zh and "免申即享" in notice.title_zh
    assert MatchRun.objects.get(policy=grant).granted == 2
    assert _run(grant)["policies"][grant.code]["granted"] == 0  # never twice


def test_auto_grant_fixed_amount_and_an_uncomputable_formula(data_dir, firms):  # noqa: F811
    fixed = f.policy("hr", mode="auto_grant", benefit_amount=Decimal("3000.00"))
    _run(fixed)
    assert set(BenefitGrant.objects.filter(policy=fixed).values_list("amount", flat=True)) == {Decimal("3000.00")}
    formula = f.policy("hr", mode="auto_grant", rule={">=": [{"var": "employees"}, 20]},
                       benefit_formula={"*": [{"var": "insured_count"}, 10]}, benefit_cap=Decimal("100000"))
    out = _run(formula)["policies"][formula.code]
    # "unknown" (20 employees, no insured count) has an account and matches but has no amount: not
    # delivered (no "granted" notice without a grant), so a later run with the data delivers it.
    assert out["delivered"] == out["granted"] > 0
    assert not Delivery.objects.filter(policy=formula, subject=firms["unknown"].uscc).exists()
    assert all(d.amount > 0 for d in Delivery.objects.filter(policy=formula))


def test_apply_mode_notice_links_to_one_click_application(data_dir, firms):  # noqa: F811
    until = datetime.date.today() + datetime.timedelta(days=60)
    apply = f.policy("hr", mode="apply", apply_until=until)
    _run(apply)
    notice = Notification.objects.get(user=firms["small"].user)
    assert notice.link == f"/policies/{apply.pk}/apply/" and "一键申报" in notice.title_zh
    assert Delivery.objects.get(subject=firms["small"].uscc).due_on == until
    assert not BenefitGrant.objects.exists()


def test_notify_mode(data_dir, firms):  # noqa: F811
    notify = f.policy("hr", mode="notify")
    _run(notify)
    notice = Notification.objects.get(user=firms["micro"].user)
    assert notice.link == f"/policies/{notify.pk}/" and notice.title_zh.startswith("您符合")
    assert not BenefitGrant.objects.exists()


def test_citizens_are_matched_from_their_own_snapshot(data_dir):  # noqa: F811
    old = f.citizen("李奶奶")
    f.citizen("小李", birth_date=datetime.date(1995, 5, 5))
    f.enterprise()
    care = f.policy("civil", target="citizen", rule=f.ELDERLY_RULE)
    out = _run(care)
    assert out["snapshots"]["citizen"]["rows"] == 2 and "enterprise" not in out["snapshots"]
    assert [d.subject for d in Delivery.objects.filter(policy=care)] == [old.id_number]


def test_a_match_not_confirmed_row_by_row_is_not_delivered(data_dir, firms, monkeypatch):  # noqa: F811
    jobs = f.policy("hr")
    monkeypatch.setattr(delivery, "explain", lambda *args, **kwargs: (False, []))
    out = _run(jobs)["policies"][jobs.code]
    assert out["matched"] == 3 and out["delivered"] == 0 and not Delivery.objects.exists()


# --- who may start one -------------------------------------------------------------------------------------------


def test_who_may_start_a_match(data_dir, firms, django_capture_on_commit_callbacks):  # noqa: F811
    jobs = f.policy("hr")
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    future = f.policy("hr", valid_from=datetime.date.today() + datetime.timedelta(days=3))
    with pytest.raises(PermissionDenied):
        matching.start_match(f.actor(f.steward("civil")), [jobs.pk])
    with pytest.raises(PermissionDenied):
        matching.start_match(f.actor(f.clerk("hr")), [jobs.pk])
    with pytest.raises(PermissionDenied):
        matching.start_match(f.actor(firms["small"].user), [jobs.pk])
    with pytest.raises(NotFound):
        matching.start_match(f.actor(f.steward()), [999_999])
    with pytest.raises(NotFound):
        matching.start_match(f.actor(f.steward("civil")), [draft.pk])
    for not_in_force in (draft, future):
        with pytest.raises(Conflict) as caught:
            matching.start_match(f.actor(f.steward()), [not_in_force.pk])
        assert caught.value.code == "policy_not_in_force"
    with pytest.raises(InvalidInput):
        matching.start_match(f.actor(f.steward()), [])
    with pytest.raises(PermissionDenied):
        matching.start_match(f.actor(f.steward()), None)
    assert not Job.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        job = matching.start_match(f.actor(f.bureau_admin()), None)  # every policy in force
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and set(job.result["policies"]) == {jobs.code}
    assert job.department == "bureau"


def test_without_delivery(data_dir, firms, django_capture_on_commit_callbacks):  # noqa: F811
    jobs = f.policy("hr")
    with django_capture_on_commit_callbacks(execute=True):
        job = matching.start_match(f.actor(f.steward()), [jobs.pk], deliver=False)
    job.refresh_from_db()
    assert job.result["policies"][jobs.code] == {"run": MatchRun.objects.get().pk, "matched": 3, "delivered": 0,
                                                 "granted": 0}
    assert not Delivery.objects.exists() and not Notification.objects.exists()


# --- snapshots ------------------------------------------------------------------------------------------------------


def test_snapshots_keep_the_newest_files(data_dir):  # noqa: F811
    f.enterprise()
    built = [snapshots.build_snapshot("enterprise", created_by="test") for _ in range(snapshots.KEEP + 2)]
    # Files younger than a day stay (a running job may still read one) ...
    assert all(snapshots.snapshot_path(s).exists() for s in built)
    # ... older ones beyond the newest KEEP go at the next build.
    ProfileSnapshot.objects.filter(pk__in=[s.pk for s in built]).update(
        created_at=timezone.now() - datetime.timedelta(days=2))
    built.append(snapshots.build_snapshot("enterprise", created_by="test"))
    present = [s.pk for s in built if snapshots.snapshot_path(s).exists()]
    assert present == [s.pk for s in built[-snapshots.KEEP:]]
    assert snapshots.latest_snapshot("enterprise").pk == built[-1].pk
    assert snapshots.latest_snapshot("citizen") is None
    snapshots.snapshot_path(built[-1]).unlink()
    assert snapshots.latest_snapshot("enterprise").pk == built[-2].pk  # the newest file still there


def test_a_failed_snapshot_is_marked_failed(data_dir, monkeypatch):  # noqa: F811
    f.enterprise()

    def broken(*args, **kwargs):
        raise engine.SnapshotError("disk full")

    monkeypatch.setattr(engine, "write_snapshot", broken)
    with pytest.raises(engine.SnapshotError):
        snapshots.build_snapshot("enterprise", created_by="test")
    assert ProfileSnapshot.objects.get().status == ProfileSnapshot.Status.FAILED
    assert snapshots.latest_snapshot("enterprise") is None and not f.ledger_entries(snapshots.BUILT)


def test_a_failed_match_job_is_reported_failed(data_dir, firms, monkeypatch,  # noqa: F811
                                               django_capture_on_commit_callbacks):
    jobs = f.policy("hr")
    monkeypatch.setattr(snapshots, "build_snapshot", lambda *args, **kwargs: 1 / 0)
    with django_capture_on_commit_callbacks(execute=True):
        job = matching.start_match(f.actor(f.steward()), [jobs.pk])
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error == "ZeroDivisionError"
    assert not MatchRun.objects.exists() and not Delivery.objects.exists()


def test_one_faulty_rule_fails_its_policy_only(data_dir, firms, monkeypatch):  # noqa: F811
    good, bad = f.policy("hr"), f.policy("hr")
    real = engine.match

    def fragile(path, rules, types, **kwargs):
        if bad.pk in rules:
            raise engine.SnapshotError("this rule cannot run")
        return real(path, rules, types, **kwargs)

    monkeypatch.setattr(engine, "match", fragile)
    out = matching.run_match([good.pk, bad.pk], created_by="test")
    assert out["policies"][bad.code] == {"error": "SnapshotError"}
    assert out["policies"][good.code]["matched"] > 0
    assert MatchRun.objects.filter(policy=good).exists() and not MatchRun.objects.filter(policy=bad).exists()


def test_progress_is_reported_in_order(data_dir, firms):  # noqa: F811
    jobs = f.policy("hr")
    seen = []
    matching.run_match([jobs.pk], created_by="test", progress=lambda done, total: seen.append((done, total)))
    assert seen == sorted(seen) and seen[-1] == (100, 100) and all(total == 100 for _, total in seen)
    assert any(done <= 60 for done, _ in seen[:-1])


# --- what the review found --------------------------------------------------------------------------------------


def test_a_policy_withdrawn_while_the_job_runs_delivers_and_pays_nothing(data_dir, firms, monkeypatch):  # noqa: F811
    granting = f.policy("hr", mode="auto_grant")
    real = snapshots.build_snapshot

    def withdrawn_meanwhile(*args, **kwargs):
        built = real(*args, **kwargs)
        Policy.objects.filter(pk=granting.pk).update(status=Policy.Status.WITHDRAWN)
        return built

    monkeypatch.setattr(snapshots, "build_snapshot", withdrawn_meanwhile)
    out = _run(granting)["policies"][granting.code]
    assert out["matched"] > 0 and out["delivered"] == out["granted"] == 0
    assert not Delivery.objects.exists() and not BenefitGrant.objects.exists()


def test_a_rule_changed_while_the_job_runs_delivers_nothing_under_the_old_one(data_dir, firms, monkeypatch):  # noqa: F811
    notify = f.policy("hr")
    real = snapshots.build_snapshot

    def reruled_meanwhile(*args, **kwargs):
        built = real(*args, **kwargs)
        EligibilityRule.objects.filter(policy=notify).update(is_current=False)
        EligibilityRule.objects.create(policy=notify, version=2, logic=f.SMALL_FIRM_RULE, created_by="test")
        return built

    monkeypatch.setattr(snapshots, "build_snapshot", reruled_meanwhile)
    assert _run(notify)["policies"][notify.code]["delivered"] == 0


def test_a_huge_formula_amount_is_no_amount(data_dir, firms):  # noqa: F811
    policy = f.policy("hr", mode="auto_grant", benefit_formula={"*": [{"var": "insured_count"}, 10 ** 12]},
                      benefit_cap=None)
    assert delivery.benefit_amount(policy, {"insured_count": 28}) is None  # no crash, nobody paid
    assert _run(policy)["policies"][policy.code]["granted"] == 0
    negative = f.policy("hr", mode="auto_grant", benefit_formula={"-": [{"var": "insured_count"}]})
    assert delivery.benefit_amount(negative, {"insured_count": 28}) is None


def test_one_match_job_at_a_time(data_dir, firms):  # noqa: F811
    jobs = f.policy("hr")
    matching.start_match(f.actor(f.steward()), [jobs.pk])  # queued (its task runs only after commit)
    with pytest.raises(Conflict) as caught:
        matching.start_match(f.actor(f.steward()), [jobs.pk])
    assert caught.value.code == "match_running"
