"""Consuming under a grant (services): query, lookup, verify, changes; authorization and its
caches; the rate limit; the access log."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from tests.exchange.factories import official, person_row, system_token
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    load,
    make_grant,
    revoke,
)
from tongban.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied, RateLimited
from tongban.exchange.models import Access, AccessSubject, Grant, RateWindow
from tongban.exchange.services import access
from tongban.identity import tokens
from tongban.identity.models import AccessToken
from tongban.ledger import services as ledger

pytestmark = pytest.mark.django_db


def system_actor(key: str):
    return tokens.cached_actor_for_bearer(key)


def code_of(call) -> str:
    with pytest.raises((PermissionDenied, NotFound, InvalidInput, RateLimited, NotAuthenticated)) as caught:
        call()
    return caught.value.code


# --- query --------------------------------------------------------------------------------------------------


def test_query_returns_granted_items_masked_unless_cleared():
    env = consumer_env(items=["id_number", "name", "sex", "phone", "address"], clear=["sex"])
    answer = access.query(env.clerk, env.code, id_number(1))
    record = answer["record"]
    number = id_number(1)
    assert list(record) == ["id_number", "name", "sex", "phone", "address"]  # granted only, in resource order
    assert record["id_number"] == number[:6] + "********" + number[-4:]
    assert record["name"] == "张*"
    assert record["sex"] == "1"  # cleared by the grant
    assert record["phone"] == "138****0001"
    assert record["address"] == "浙江省杭州市西湖区****"
    assert "marital_status" not in record and "registered_on" not in record
    assert set(answer["masked"]) == {"id_number", "name", "phone", "address"}
    assert answer["grant"] == env.grant.pk


def test_cleared_personal_item_is_returned_in_clear():
    env = consumer_env(items=["name", "phone"], clear=["name", "phone"])
    assert access.query(env.clerk, env.code, id_number(2))["record"] == {"name": "张2", "phone": "13800000002"}


def test_query_writes_one_access_with_subject_hash_and_no_identifier():
    env = consumer_env(items=["name"])
    access.query(env.clerk, env.code, id_number(1).lower())  # the x check digit in lower case is the same person
    row = Access.objects.get()
    assert (row.mode, row.resource_code, row.consumer_code, row.actor) == ("query", env.code, "health", env.clerk.username)
    assert row.items == ["name"] and row.purpose == env.grant.purpose and row.grant_id == env.grant.pk
    assert row.subject_hash == ledger.subject_hash(id_number(1)) and row.subject_count == 1 and row.found == 1
    assert row.ledger_event_id is None  # pending until sealed
    assert id_number(1) not in str(Access.objects.values().get())


def test_query_of_unknown_subject_is_404_and_still_logged():
    env = consumer_env()
    assert code_of(lambda: access.query(env.clerk, env.code, id_number(99))) == "record_not_found"
    row = Access.objects.get()
    assert row.found == 0 and row.subject_hash == ledger.subject_hash(id_number(99))


def test_malformed_subject_is_422_and_not_logged():
    env = consumer_env()
    assert code_of(lambda: access.query(env.clerk, env.code, "123")) == "invalid_id_number"
    assert not Access.objects.exists()


def test_system_token_with_scope_may_query():
    env = consumer_env(items=["name"])
    actor = system_actor(env.token)
    assert access.query(actor, env.code, id_number(3))["record"] == {"name": "张*"}
    assert Access.objects.get().actor == actor.username


# --- who may consume --------------------------------------------------------------------------------------


def test_no_grant_is_403():
    env = consumer_env()
    stranger = official("market", "clerk")
    assert code_of(lambda: access.query(stranger, env.code, id_number(1))) == "no_grant"
    assert not Access.objects.exists()


def test_other_departments_token_is_403():
    env = consumer_env()
    other = system_actor(system_token("market", "exchange:query"))
    assert code_of(lambda: access.query(other, env.code, id_number(1))) == "no_grant"


def test_token_without_scope_is_403():
    env = consumer_env()
    verify_only = system_actor(system_token("health", "exchange:verify"))
    with pytest.raises(PermissionDenied) as caught:
        access.query(verify_only, env.code, id_number(1))
    assert caught.value.details == {"required_scope": "exchange:query"}


def test_officials_need_a_consumer_role():
    env = consumer_env()
    auditor = official("health", "auditor")
    with pytest.raises(PermissionDenied):
        access.query(auditor, env.code, id_number(1))
    for role in ("clerk", "approver", "steward", "dept_admin"):
        assert access.query(official("health", role), env.code, id_number(1))["record"]


def test_mode_not_granted():
    env = consumer_env(modes=["verify"])
    assert code_of(lambda: access.query(env.clerk, env.code, id_number(1))) == "mode_not_granted"
    assert code_of(lambda: access.changes(env.clerk, env.code, 0)) == "mode_not_granted"


def test_expired_grant_is_403_by_the_clock_even_with_a_warm_cache():
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))  # warms the caches
    later = env.grant.expires_at.timestamp() + 1
    assert code_of(lambda: access.query(env.clerk, env.code, id_number(1), now=later)) == "grant_expired"


def test_grant_not_yet_valid_is_403():
    env = consumer_env(starts_in=3600)
    assert code_of(lambda: access.query(env.clerk, env.code, id_number(1))) == "no_grant"


def test_revocation_takes_effect_on_the_very_next_request_with_a_warm_cache():
    env = consumer_env()
    actor = system_actor(env.token)
    access.query(actor, env.code, id_number(1))
    access.query(actor, env.code, id_number(2))  # cache warm
    revoke(env.grant)
    assert code_of(lambda: access.query(actor, env.code, id_number(1))) == "grant_revoked"
    assert Access.objects.count() == 2  # the refused request read nothing and logged nothing


def test_a_new_grant_works_at_once_after_a_cached_refusal():
    env = consumer_env()
    market_clerk = official("market", "clerk")
    assert code_of(lambda: access.query(market_clerk, env.code, id_number(1))) == "no_grant"
    make_grant(env.code, "market", items=["name"])
    assert access.query(market_clerk, env.code, id_number(1))["record"] == {"name": "张*"}


def test_token_revocation_takes_effect_on_the_very_next_request():
    env = consumer_env()
    access.query(system_actor(env.token), env.code, id_number(1))
    actor = system_actor(env.token)  # as the next request's authentication finds it: cached
    steward = official("health", "steward")
    with transaction.atomic():
        tokens.revoke_token(steward, AccessToken.objects.get(pk=actor.token_id).pk)
    assert tokens.cached_actor_for_bearer(env.token) is actor  # still cached in this process...
    with pytest.raises(NotAuthenticated):  # ...but the generation read with the record exposes it
        access.query(actor, env.code, id_number(1))
    assert tokens.cached_actor_for_bearer(env.token) is None


def test_narrowed_grant_applies_on_the_next_request():
    env = consumer_env(items=["name", "phone"], clear=["name", "phone"])
    assert access.query(env.clerk, env.code, id_number(1))["record"]["name"] == "张1"
    with transaction.atomic():
        Grant.objects.filter(pk=env.grant.pk).update(clear_items=[])
        from tongban.core import generations

        generations.bump()
    assert access.query(env.clerk, env.code, id_number(1))["record"] == {"name": "张*", "phone": "138****0001"}


# --- rate limit ---------------------------------------------------------------------------------------------


def test_rate_limit_is_429_and_nothing_is_logged():
    env = consumer_env(rate=3)
    now = (int(time.time()) // 60 + 1) * 60 + 10.0  # ten seconds into the next minute
    for _ in range(3):
        access.query(env.clerk, env.code, id_number(1), now=now)
    with pytest.raises(RateLimited) as caught:
        access.query(env.clerk, env.code, id_number(1), now=now + 1)
    assert caught.value.code == "rate_limited" and caught.value.details["retry_after"] == 49
    assert Access.objects.count() == 3
    # The next minute starts afresh.
    access.query(env.clerk, env.code, id_number(1), now=now + 60)
    assert Access.objects.count() == 4
    assert RateWindow.objects.filter(grant=env.grant).count() == 2


def test_rate_limit_counts_every_mode_of_the_grant():
    env = consumer_env(rate=2)
    now = time.time()
    access.query(env.clerk, env.code, id_number(1), now=now)
    access.verify(env.clerk, env.code, id_number(1), {"name": "张1"}, now=now)
    with pytest.raises(RateLimited):
        access.lookup(env.clerk, env.code, [id_number(1)], now=now)


# --- lookup -------------------------------------------------------------------------------------------------


def test_lookup_answers_in_request_order_and_logs_one_access_with_every_subject():
    env = consumer_env(items=["name"], clear=["name"])
    subjects = [id_number(2), id_number(99), id_number(1), id_number(2)]
    answer = access.lookup(env.clerk, env.code, subjects)
    assert [(r["subject"], r["found"], r["record"]) for r in answer["results"]] == [
        (id_number(2), True, {"name": "张2"}), (id_number(99), False, None), (id_number(1), True, {"name": "张1"}),
        (id_number(2), True, {"name": "张2"}),
    ]
    assert answer["found"] == 2
    row = Access.objects.get()
    assert (row.mode, row.subject_count, row.found, row.subject_hash) == ("lookup", 3, 2, "")
    assert set(AccessSubject.objects.filter(access=row).values_list("subject_hash", flat=True)) == {
        ledger.subject_hash(id_number(n)) for n in (1, 2, 99)}


def test_lookup_limits_and_malformed_subjects():
    env = consumer_env()
    assert code_of(lambda: access.lookup(env.clerk, env.code, [])) == "subjects_required"
    assert code_of(lambda: access.lookup(env.clerk, env.code, [id_number(1)] * 1001)) == "too_many_subjects"
    with pytest.raises(InvalidInput) as caught:
        access.lookup(env.clerk, env.code, [id_number(1), "bad", 42, id_number(2)[:-1] + "0"])
    assert caught.value.code == "invalid_subjects"
    assert [entry["index"] for entry in caught.value.details["invalid"]] == [1, 2, 3]
    assert not Access.objects.exists()


def test_lookup_of_a_thousand_subjects():
    env = consumer_env(records=0)
    load(env.code, [person_row(n) for n in range(1000)])
    answer = access.lookup(env.clerk, env.code, [id_number(n) for n in range(1000)])
    assert answer["found"] == 1000 and len(answer["results"]) == 1000
    assert AccessSubject.objects.count() == 1000


# --- verify -------------------------------------------------------------------------------------------------


def test_verify_answers_match_or_no_match_and_never_the_value():
    env = consumer_env()
    answer = access.verify(env.clerk, env.code, id_number(1), {"name": " 张1 ", "phone": "+86 138-0000-0002",
                                                               "marital_status": "20"})
    assert answer["results"] == {"name": "match", "phone": "no_match", "marital_status": "match"}
    assert answer["all_match"] is False
    assert "张1" not in str(answer) and "13800000001" not in str(answer)
    row = Access.objects.get()
    assert (row.mode, row.items, row.found) == ("verify", ["marital_status", "name", "phone"], 1)


def test_verify_of_a_missing_subject_reveals_nothing():
    env = consumer_env()
    known = access.verify(env.clerk, env.code, id_number(1), {"name": "李四"})
    unknown = access.verify(env.clerk, env.code, id_number(99), {"name": "李四"})
    assert known == unknown  # the same answer whether or not there is a record


def test_verify_only_granted_items_and_valid_values():
    env = consumer_env(items=["id_number", "name"])
    assert code_of(lambda: access.verify(env.clerk, env.code, id_number(1), {"phone": "13800000001"})) == \
        "claims_not_granted"
    assert code_of(lambda: access.verify(env.clerk, env.code, id_number(1), {})) == "claims_required"
    env2 = consumer_env(provider="civil2", consumer="health2")
    with pytest.raises(InvalidInput) as caught:
        access.verify(env2.clerk, env2.code, id_number(1), {"phone": "12", "marital_status": "ZZ"})
    assert caught.value.code == "invalid_claims"
    assert {p["item"] for p in caught.value.details["invalid"]} == {"phone", "marital_status"}
    assert not Access.objects.exists()


# --- changes ------------------------------------------------------------------------------------------------


def test_changes_cursor_continues_across_loads_without_gaps_or_duplicates():
    env = consumer_env(records=3, items=["id_number", "name"], clear=["name"])
    first = access.changes(env.clerk, env.code, 0, limit=2)
    assert [c["seq"] for c in first["changes"]] == [1, 2] and first["has_more"] is True and first["next"] == 2
    second = access.changes(env.clerk, env.code, first["next"], limit=2)
    assert [c["seq"] for c in second["changes"]] == [3] and second["has_more"] is False and second["next"] == 3
    empty = access.changes(env.clerk, env.code, second["next"])
    assert empty["changes"] == [] and empty["next"] == 3
    load(env.code, [person_row(2, name="张二"), person_row(4)])  # the second load: one change, one new
    third = access.changes(env.clerk, env.code, empty["next"])
    assert [c["seq"] for c in third["changes"]] == [4, 5]
    assert [c["record"]["name"] for c in third["changes"]] == ["张二", "张4"]
    assert all(set(c["record"]) == {"id_number", "name"} for c in first["changes"] + third["changes"])
    seen = [c["seq"] for page in (first, second, third) for c in page["changes"]]
    assert seen == [1, 2, 3, 4, 5]
    assert third["changes"][0]["record"]["id_number"].count("*") == 8  # not cleared: masked


def test_changes_are_logged_with_their_subjects_and_empty_polls_are_not():
    env = consumer_env(records=2)
    access.changes(env.clerk, env.code, 0)
    access.changes(env.clerk, env.code, 2)
    row = Access.objects.get()
    assert (row.mode, row.found, row.subject_count) == ("changes", 2, 2)
    assert AccessSubject.objects.filter(access=row).count() == 2


@pytest.mark.parametrize(("since", "limit", "code"), [
    ("-1", 10, "invalid_since"), ("abc", 10, "invalid_since"), ("1.5", 10, "invalid_since"), (None, 10, "invalid_since"),
    ("0", 0, "invalid_limit"), ("0", 1001, "invalid_limit"), ("0", "x", "invalid_limit"),
])
def test_changes_invalid_cursor_is_422(since, limit, code):
    env = consumer_env()
    assert code_of(lambda: access.changes(env.clerk, env.code, since, limit)) == code


def test_high_limits_are_counted_in_leases_and_never_exceeded():
    from tongban.exchange.services import authz

    env = consumer_env(rate=2401)  # a lease of 2 per counter write
    assert access.lease_size(2401) == 2 and access.lease_size(1199) == 1
    grant = authz.grant_for(env.clerk, env.code, "query")
    now = (int(time.time()) // 60 + 1) * 60 + 5.0
    processes = [{}, {}]  # two worker processes, each with its own leases
    served = refused = 0
    for n in range(2500):
        authz.leases = processes[n % 2]
        try:
            access.record_access(env.clerk, grant, "query", items_json="[]", now=now)
            served += 1
        except RateLimited:
            refused += 1
    assert served == 2401 and refused == 99  # never beyond the limit, nothing left unserved
    assert Access.objects.count() == 2401
    window = RateWindow.objects.get(grant=env.grant)
    assert window.count == 2402  # the last lease was cut to the one request still allowed
