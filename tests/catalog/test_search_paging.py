"""Search past the ranked head: deep pages, filters and counts kept in the index, facets, the
migration that put facet values into the index."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.catalog.factories import bureau, enterprise_items, publish, steward
from tongban.catalog import search, services
from tongban.identity.access import ANONYMOUS

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return steward("market"), bureau()


def codes(page):
    return [r.code for r in page.items]


def _corpus(market, health, reviewer):
    """Eleven 登记 resources over three tiers, two departments and three open classes."""
    made = []
    for n in range(5):
        made.append(publish(market if n % 2 else health, reviewer, name=f"企业登记信息{n}", abstract="说明。",
                            keywords=[], opening=("open", "conditional", "closed")[n % 3],
                            sharing="open_share" if n % 3 == 0 else "conditional"))
    for n in range(3):
        made.append(publish(market, reviewer, name=f"甲资源{n}", abstract="办理登记的情况。", keywords=[],
                            opening="open" if n else "closed", sharing="open_share" if n else "conditional"))
    for n in range(3):
        made.append(publish(health, reviewer, name=f"乙资源{n}", abstract="说明。", keywords=[], opening="conditional",
                            items=[*enterprise_items(), {"key": "reg", "name": "登记日期", "data_type": "date"}]))
    return made


def _all_pages(actor, query, page_size, **filters):
    seen, page = [], 1
    while True:
        result = services.search_resources(actor, query, page=page, page_size=page_size, **filters)
        if not result.items:
            return seen, result
        seen += codes(result)
        page += 1


@pytest.mark.parametrize("candidates", [2, 4, 100])
def test_deep_pages_of_a_filtered_query_list_every_match_once_in_tier_order(people, monkeypatch, candidates):
    market, reviewer = people
    made = _corpus(market, steward("health"), reviewer)
    monkeypatch.setattr(search, "CANDIDATES", candidates)
    tier = {r.code: (0 if "登记" in r.name else 1 if r.name.startswith("甲") else 2) for r in made}
    for actor, filters, expected in [
        (market, {}, made),
        (ANONYMOUS, {}, [r for r in made if r.opening != "closed"]),
        (market, {"department": "market"}, [r for r in made if r.department.code == "market"]),
        (ANONYMOUS, {"sharing": "open_share"}, [r for r in made if r.opening != "closed" and r.sharing == "open_share"]),
    ]:
        seen, last = _all_pages(actor, "登记", 3, **filters)
        assert sorted(seen) == sorted(r.code for r in expected), filters  # every match, once
        assert [tier[c] for c in seen] == sorted(tier[c] for c in seen), filters  # names, abstracts, items
        first = services.search_resources(actor, "登记", page_size=3, **filters)
        assert first.count == len(expected) and first.count_exact


def test_public_counts_follow_the_lifecycle(people):
    market, reviewer = people
    open_one = publish(market, reviewer, name="婚姻登记信息", sharing="open_share", opening="open")
    publish(market, reviewer, name="收养登记信息", opening="closed")
    assert services.search_resources(ANONYMOUS, "登记").count == 1
    assert services.search_resources(market, "登记").count == 2
    search.index_resource(open_one)  # indexing again replaces the entry
    assert services.search_resources(ANONYMOUS, "登记").count == 1
    services.deprecate(market, open_one.code, "停用")
    assert services.search_resources(ANONYMOUS, "登记").count == 0
    assert services.search_resources(market, "登记").count == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT docs, public_docs FROM catalog_search_term WHERE term = '登记'")
            assert cursor.fetchone() == (1, 0)
            cursor.execute("SELECT docs, public_docs FROM catalog_search_term WHERE term = '~p'")
            assert cursor.fetchone() == (0, 0)


def test_a_filter_value_that_is_no_choice_matches_nothing(people):
    market, reviewer = people
    publish(market, reviewer, name="婚姻登记信息", sharing="open_share", opening="open")
    assert services.search_resources(market, "登记", sharing="open_share").count == 1
    for filters in ({"sharing": "openshare"}, {"theme": "civil affairs"}, {"opening": '"open"'},
                    {"department": "nowhere"}):
        result = services.search_resources(market, "登记", with_facets=True, **filters)
        assert result.count == 0 and result.items == [], filters


def _facets(result):
    return {name: {e["value"]: e["count"] for e in entries} for name, entries in result.facets.items()}


def test_facets_are_exact_past_the_head_and_over_the_head_when_too_many(people, monkeypatch):
    market, reviewer = people
    made = _corpus(market, steward("health"), reviewer)
    public = [r for r in made if r.opening != "closed"]
    expected = {
        "department": {d: sum(r.department.code == d for r in public) for d in ("market", "health")},
        "opening": {o: sum(r.opening == o for r in public) for o in ("open", "conditional")},
    }
    monkeypatch.setattr(search, "CANDIDATES", 3)  # the head holds 3 of the 8 public matches
    result = services.search_resources(ANONYMOUS, "登记", with_facets=True)
    assert result.facets_exact and result.count == len(public)
    assert {k: v for k, v in _facets(result).items() if k in expected} == expected
    monkeypatch.setattr(search, "FACET_EXACT_LIMIT", 5)
    result = services.search_resources(ANONYMOUS, "登记", with_facets=True)
    assert not result.facets_exact
    assert sum(_facets(result)["opening"].values()) == 3  # counted over the head


def test_counts_beyond_the_cap(people, monkeypatch):
    market, reviewer = people
    for n in range(5):
        publish(market, reviewer, name=f"企业信息{n}", abstract="说明。", keywords=[])
    monkeypatch.setattr(search, "CANDIDATES", 2)
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    result = services.search_resources(market, "企业 信息", page_size=5)
    assert len(result.items) == 5  # paging does not depend on the count
    if connection.vendor == "postgresql":  # two words: counted up to the cap
        assert (result.count, result.count_exact) == (3, False)
    else:  # FTS5 counts every match cheaply
        assert (result.count, result.count_exact) == (5, True)


def _snapshot(actor):
    out = []
    for query, filters in [("登记", {}), ("登记", {"department": "market"}), ("企业 登记", {}),
                           ("登记", {"sharing": "open_share"})]:
        result = services.search_resources(actor, query, with_facets=True, **filters)
        out.append((codes(result), result.count, _facets(result)))
    return out


@pytest.mark.django_db(transaction=True)
def test_migration_converts_an_existing_index(people):
    from django.core.management import call_command

    market, reviewer = people
    _corpus(market, steward("health"), reviewer)
    before = [_snapshot(market), _snapshot(ANONYMOUS)]
    terms = _terms()
    call_command("migrate", "catalog", "0004", verbosity=0)
    call_command("migrate", "catalog", verbosity=0)
    assert [_snapshot(market), _snapshot(ANONYMOUS)] == before
    assert _terms() == terms


def _terms():
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT term, docs, public_docs FROM catalog_search_term WHERE docs > 0 ORDER BY term")
        return cursor.fetchall()
