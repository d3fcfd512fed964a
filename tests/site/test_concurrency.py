"""Concurrency (issue 11, item 4): two people acting on the same thing at the same moment get
exactly one outcome, on PostgreSQL and on SQLite.

Each case starts two threads at a ``threading.Barrier``; every thread has its own database
connection (closed when it ends) and its own transaction, as two web workers would.

* PostgreSQL: both transactions really run side by side; the services' row locks
  (``select_for_update``) and unique constraints decide who wins.
* SQLite: the platform's database is a file in WAL mode whose write transactions begin
  IMMEDIATE, so a second writer waits (busy timeout) until the first commits. The test database
  is the in-memory shared-cache one, where a second writer fails at once with "database table is
  locked" instead of waiting; the same waiting is reproduced here by a process lock taken around
  each write transaction. The second one therefore runs after the first committed — the order
  SQLite gives in production — and must still be answered with the one outcome (409 for the
  loser).

The assertions never depend on which thread wins.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from tests.exchange.factories import official, person_resource, person_row, steward
from tests.exchange.factories_requests import pending_request
from tests.onestop import factories as of
from tests.onestop import factories_apps as fa
from tests.policies import factories as pf
from tongban.core.errors import DomainError
from tongban.core.models import Notification
from tongban.exchange.models import Batch, Grant, Record, RecordVersion, ResourceState
from tongban.exchange.services import records, requests
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application, ApplicationEvent, ReviewTask
from tongban.onestop.services import applications as apps
from tongban.policies.models import Delivery, MatchRun
from tongban.policies.services import delivery, matching

pytestmark = pytest.mark.django_db(transaction=True)

_SQLITE_WRITER = threading.Lock()  # SQLite's one writer at a time (see the module docstring)
TODAY = datetime.date.today()


@pytest.fixture(autouse=True)
def _no_mfa(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.DATA_DIR = tmp_path  # policy profile snapshots
    settings.MEDIA_ROOT = tmp_path / "media"


@contextlib.contextmanager
def writing():
    """One write transaction, as a request handler holds it."""
    lock = _SQLITE_WRITER if connection.vendor == "sqlite" else contextlib.nullcontext()
    with lock, transaction.atomic():
        yield


@contextlib.contextmanager
def serialised_on_sqlite():
    """For work that opens its own transactions (a bulk match job)."""
    with _SQLITE_WRITER if connection.vendor == "sqlite" else contextlib.nullcontext():
        yield


def race(*works: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run ``works`` at the same moment, one thread and connection each. Answers per work
    ("ok", result), ("refused", DomainError) or ("crashed", any other exception)."""
    barrier = threading.Barrier(len(works), timeout=20)
    outcomes: list[tuple[str, Any] | None] = [None] * len(works)

    def run(number: int) -> None:
        try:
            barrier.wait()
            outcomes[number] = ("ok", works[number]())
        except DomainError as exc:
            outcomes[number] = ("refused", exc)
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertions
            outcomes[number] = ("crashed", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert all(o is not None for o in outcomes)
    crashed = [o[1] for o in outcomes if o[0] == "crashed"]
    assert not crashed, crashed
    return outcomes  # type: ignore[return-value]


def one_winner(outcomes, code: str) -> tuple[int, Any]:
    """Exactly one succeeded; every other one was refused with 409 ``code``. Answers the winner's
    position and result."""
    winners = [(n, o[1]) for n, o in enumerate(outcomes) if o[0] == "ok"]
    assert len(winners) == 1, outcomes
    for kind, value in outcomes:
        if kind == "refused":
            assert (value.status, value.code) == (409, code), value
    return winners[0]


def decide_request(approver, request_id: int, approve: bool):
    def work():
        with writing():
            return requests.decide(approver, request_id, approve=approve,
                                   reason="同意共享。" if approve else "不符合共享条件。")
    return work


# --- exchange: access requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("choices", [(True, False), (True, True), (False, False)],
                         ids=["approve-vs-reject", "approve-vs-approve", "reject-vs-reject"])
def test_two_approvers_deciding_one_request_give_one_decision(choices):
    request = pending_request("civil", "health")
    approvers = [official("civil", "approver"), official("civil", "steward")]
    outcomes = race(*(decide_request(a, request.pk, c) for a, c in zip(approvers, choices, strict=True)))
    winner, decided = one_winner(outcomes, "request_not_pending")
    approved = choices[winner]
    request.refresh_from_db()
    assert request.status == ("approved" if approved else "rejected")
    assert request.decided_by == decided.decided_by
    assert Grant.objects.filter(request=request).count() == (1 if approved else 0)
    decisions = LedgerEvent.objects.filter(action__in=[requests.APPROVED, requests.REJECTED],
                                           subject=f"resource:{request.resource_code}")
    assert list(decisions.values_list("action", flat=True)) == [requests.APPROVED if approved else requests.REJECTED]


# --- one-stop: the window and the parallel review ---------------------------------------------------------------


def window(user, number: str, accept: bool):
    def work():
        with writing():
            if accept:
                return apps.accept(of.actor(user), number)
            return apps.refuse(of.actor(user), number, "材料不符合法定形式。")
    return work


@pytest.mark.parametrize("choices", [(True, False), (True, True)], ids=["accept-vs-refuse", "accept-vs-accept"])
def test_two_clerks_handling_one_application_give_one_outcome(choices):
    item = of.service_item("market", co_departments=("health",))
    application, _user = fa.submitted(item)
    clerks = [of.clerk("market"), of.clerk("market")]
    outcomes = race(*(window(c, application.number, a) for c, a in zip(clerks, choices, strict=True)))
    winner, _ = one_winner(outcomes, "illegal_transition")
    application.refresh_from_db()
    accepted = choices[winner]
    assert application.status == ("under_review" if accepted else "refused")
    # One set of review tasks (one per involved department), or none.
    assert ReviewTask.objects.filter(application=application).count() == (2 if accepted else 0)
    moves = list(ApplicationEvent.objects.filter(application=application).order_by("id")
                 .values_list("from_status", "to_status"))
    expected = [("submitted", "accepted"), ("accepted", "under_review")] if accepted else [("submitted", "refused")]
    assert moves[-len(expected):] == expected and moves.count(expected[0]) == 1
    verbs = LedgerEvent.objects.filter(subject=f"application:{application.number}",
                                       action__in=["onestop.accepted", "onestop.refused"])
    assert verbs.count() == 1


def decide(user, task_id: int, approve: bool):
    def work():
        with writing():
            return apps.decide_task(of.actor(user), task_id, approve=approve,
                                    opinion="符合条件。" if approve else "经营场所不符合要求。")
    return work


@pytest.mark.parametrize("choices", [(True, False), (True, True), (False, False)],
                         ids=["approve-vs-deny", "approve-vs-approve", "deny-vs-deny"])
def test_two_officials_deciding_one_review_task_give_one_outcome(choices):
    application, _user = fa.under_review(of.service_item("market", co_departments=("health",)))
    task = application.tasks.get(department__code="market")
    officials = [of.approver("market"), of.clerk("market")]
    outcomes = race(*(decide(u, task.pk, a) for u, a in zip(officials, choices, strict=True)))
    winner, _ = one_winner(outcomes, "task_not_pending")
    approved = choices[winner]
    task.refresh_from_db()
    application.refresh_from_db()
    assert task.status == ("approved" if approved else "denied")
    assert application.status == ("under_review" if approved else "denied")
    other = application.tasks.get(department__code="health")
    assert other.status == ("pending" if approved else "cancelled")
    decided = LedgerEvent.objects.filter(subject=f"application:{application.number}", action="onestop.task_decided")
    assert decided.count() == 1
    assert ApplicationEvent.objects.filter(application=application, to_status="denied").count() == (0 if approved else 1)


def test_the_last_two_departments_approving_at_once_complete_the_application_once():
    """Without the application lock each would still see the other's task pending, and nobody
    would move the application on."""
    application, _user = fa.under_review(of.service_item("market", co_departments=("health",)))
    tasks = {t.department.code: t for t in application.tasks.select_related("department")}
    outcomes = race(decide(of.approver("market"), tasks["market"].pk, True),
                    decide(of.approver("health"), tasks["health"].pk, True))
    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    application.refresh_from_db()
    assert application.status == "completed"
    moves = list(ApplicationEvent.objects.filter(application=application).values_list("from_status", "to_status"))
    assert moves.count(("under_review", "approved")) == 1 and moves.count(("approved", "completed")) == 1


# --- exchange: two loads of the same subject ---------------------------------------------------------------------


def load(actor, code: str, rows: list[dict]):
    def work():
        with writing():
            return records.load_records(actor, code, rows)
    return work


@pytest.mark.parametrize("existing", [False, True], ids=["first-load", "subject-already-loaded"])
def test_two_loads_of_one_subject_keep_one_consistent_version(existing):
    resource, loader = person_resource("civil"), steward("civil")
    if existing:
        with transaction.atomic():
            records.load_records(loader, resource.code, [person_row(1, name="张原")])
    before = ResourceState.objects.filter(resource_code=resource.code).values_list("last_seq", flat=True).first() or 0
    batches = {"a": [person_row(1, name="张甲", marital_status="20"), person_row(2, name="李甲")],
               "b": [person_row(1, name="张乙", marital_status="21"), person_row(3, name="王乙")]}
    outcomes = race(load(steward("civil"), resource.code, batches["a"]),
                    load(loader, resource.code, batches["b"]))
    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    loaded = sorted((result for _, result in outcomes), key=lambda b: b.first_seq)
    # Commit order = sequence order: each load took its whole range under the state lock.
    assert [(b.first_seq, b.last_seq) for b in loaded] == [(before + 1, before + 2), (before + 3, before + 4)]
    assert [b.pk for b in loaded] == sorted(b.pk for b in loaded)
    subject = person_row(1)["id_number"]
    (current,) = Record.objects.filter(resource_code=resource.code, subject=subject)
    history = list(RecordVersion.objects.filter(resource_code=resource.code, subject=subject).order_by("seq"))
    # Both versions kept, in commit order; the current record is the later one, whole (never a mix).
    assert [v.batch_id for v in history[-2:]] == [b.pk for b in loaded]
    assert history[-1].seq == current.seq and history[-1].data == current.data
    assert current.batch_id == loaded[1].pk
    assert current.data["name"] in ("张甲", "张乙")
    assert current.data["marital_status"] == {"张甲": "20", "张乙": "21"}[current.data["name"]]
    # A gapless change sequence over the whole resource.
    seqs = list(RecordVersion.objects.filter(resource_code=resource.code).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, before + 5))
    state = ResourceState.objects.get(resource_code=resource.code)
    assert state.last_seq == before + 4
    assert state.record_count == Record.objects.filter(resource_code=resource.code).count() == 3
    assert Batch.objects.filter(resource_code=resource.code).count() == 2 + existing
    assert LedgerEvent.objects.filter(action=records.LOADED, subject=f"resource:{resource.code}").count() == 2 + existing


# --- policies: bulk matches and one-click applications --------------------------------------------------------


def test_two_bulk_matches_of_one_policy_deliver_once():
    firms = [pf.enterprise(employees=30, insured_count=28), pf.enterprise(employees=8, insured_count=12),
             pf.enterprise(employees=500, insured_count=480)]
    policy = pf.policy("hr")

    def run():
        with serialised_on_sqlite():
            return matching.run_match([policy.pk], created_by="po-test")

    outcomes = race(run, run)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    delivered = sorted(result["policies"][policy.code]["delivered"] for _, result in outcomes)
    assert delivered == [0, 2]
    assert MatchRun.objects.filter(policy=policy).count() == 2
    assert sorted(Delivery.objects.filter(policy=policy).values_list("subject", flat=True)) \
        == sorted(firm.uscc for firm in firms[:2])
    assert LedgerEvent.objects.filter(action=delivery.DELIVERED, subject=f"policy:{policy.code}").count() == 2
    for firm in firms[:2]:
        assert Notification.objects.filter(user=firm.user, category=delivery.CATEGORY).count() == 1


def one_click(user, policy_id: int):
    def work():
        with writing():
            return delivery.apply(pf.actor(user), policy_id)
    return work


@pytest.mark.parametrize("delivered", [False, True], ids=["found-in-the-library", "after-a-delivery"])
def test_two_one_click_applications_of_one_policy_give_one_application(delivered):
    policy = pf.policy("hr", mode="apply", apply_from=TODAY - datetime.timedelta(days=10),
                       apply_until=TODAY + datetime.timedelta(days=20))
    firm = pf.enterprise()
    if delivered:
        matching.run_match([policy.pk], created_by="po-test")
        assert Delivery.objects.filter(policy=policy).count() == 1
    outcomes = race(one_click(firm.user, policy.pk), one_click(firm.user, policy.pk))
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[0][1].number == outcomes[1][1].number  # both answered with the same application
    (application,) = Application.objects.filter(applicant=firm.user)
    (item,) = Delivery.objects.filter(policy=policy, subject=firm.uscc)
    assert item.status == Delivery.Status.APPLIED and item.application_number == application.number
    assert LedgerEvent.objects.filter(action=delivery.APPLIED, subject=f"policy:{policy.code}").count() == 1
    assert LedgerEvent.objects.filter(action="onestop.started", subject=f"application:{application.number}").count() == 1


def test_a_bulk_match_and_a_one_click_application_at_once_give_one_delivery(monkeypatch):
    policy = pf.policy("hr", mode="apply", apply_from=TODAY - datetime.timedelta(days=10),
                       apply_until=TODAY + datetime.timedelta(days=20))
    firm = pf.enterprise()
    # The snapshot and the match take a while: the application starts when the delivery does.
    delivering = threading.Barrier(2, timeout=60)
    real_deliver_run = delivery.deliver_run

    def deliver_run(*args, **kwargs):
        delivering.wait()
        return real_deliver_run(*args, **kwargs)

    monkeypatch.setattr(delivery, "deliver_run", deliver_run)

    def run():
        with serialised_on_sqlite():
            return matching.run_match([policy.pk], created_by="po-test")

    def apply():
        delivering.wait()
        return one_click(firm.user, policy.pk)()

    outcomes = race(run, apply)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    sent = outcomes[0][1]["policies"][policy.code]["delivered"]
    assert sent in (0, 1)  # 0: the application came first and recorded the delivery itself
    (application,) = Application.objects.filter(applicant=firm.user)
    (item,) = Delivery.objects.filter(policy=policy, subject=firm.uscc)
    assert item.status == Delivery.Status.APPLIED and item.application_number == application.number
    assert LedgerEvent.objects.filter(action=delivery.DELIVERED, subject=f"policy:{policy.code}").count() == sent
    assert LedgerEvent.objects.filter(action=delivery.APPLIED, subject=f"policy:{policy.code}").count() == 1
