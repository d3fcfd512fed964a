"""Chinese full-text search: segmentation, relevance tiers, facets, visibility, index upkeep."""

from __future__ import annotations

import pytest

from tests.catalog.factories import bureau, enterprise_items, person_items, publish, steward
from tongban.catalog import search, segment, services
from tongban.identity.access import ANONYMOUS

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return steward("market"), bureau()


def names(page):
    return [r.name for r in page.items]


def test_domain_dictionary_keeps_domain_words_whole():
    assert segment.query_words("古树名木保护") == ["古树名木", "保护"]
    assert segment.query_words("船舶检验") == ["船舶检验"]
    assert "古树" in segment.index_words("古树名木养护")  # documents also index the sub-words
    assert segment.query_words("  ") == []
    assert segment.query_words("Health 健康码!") == ["health", "健康码"]


def test_names_rank_above_keywords_above_abstracts_above_items(people):
    market, reviewer = people
    in_items = publish(market, reviewer, name="甲资源", abstract="与查询无关的一段说明文字。", keywords=["其他"],
                       items=person_items() + [{"key": "permit", "name": "古树名木编号", "data_type": "string"}])
    in_abstract = publish(market, reviewer, name="乙资源", abstract="本资源记录古树名木的养护责任。", keywords=["其他"])
    in_keywords = publish(market, reviewer, name="丙资源", abstract="说明。", keywords=["古树名木"])
    in_name = publish(market, reviewer, name="古树名木信息", abstract="说明。", keywords=["其他"])
    result = services.search_resources(market, "古树名木")
    assert [r.code for r in result.items] == [in_name.code, in_keywords.code, in_abstract.code, in_items.code]
    assert result.count == 4 and result.count_exact


def test_provider_name_is_searchable(people):
    market, reviewer = people
    publish(market, reviewer, name="甲资源", abstract="说明。")
    assert services.search_resources(market, "market").count == 1  # the factory names it "market 部门"


def test_all_words_must_match(people):
    market, reviewer = people
    publish(market, reviewer, name="婚姻登记信息")
    publish(market, reviewer, name="企业登记信息", abstract="企业的登记。", keywords=[], items=enterprise_items())
    assert names(services.search_resources(market, "婚姻 登记")) == ["婚姻登记信息"]
    assert services.search_resources(market, "婚姻 企业").count == 0


def test_facets_count_the_matches(people):
    market, reviewer = people
    health = steward("health")
    publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open", items=enterprise_items(),
            abstract="说明。", keywords=[])
    publish(market, reviewer, name="个体登记信息", opening="conditional", abstract="说明。", keywords=[])
    publish(health, reviewer, name="医师登记信息", abstract="说明。", keywords=[])
    publish(health, reviewer, name="疫苗接种记录", abstract="说明。", keywords=[])
    result = services.search_resources(market, "登记", with_facets=True)
    assert result.count == 3
    assert {e["value"]: e["count"] for e in result.facets["department"]} == {"market": 2, "health": 1}
    assert {e["value"]: e["count"] for e in result.facets["sharing"]} == {"conditional": 2, "open_share": 1}
    assert {e["value"]: e["count"] for e in result.facets["opening"]} == {"open": 1, "conditional": 1, "closed": 1}
    assert result.facets_exact
    filtered = services.search_resources(market, "登记", department="health", with_facets=True)
    assert names(filtered) == ["医师登记信息"] and filtered.count == 1
    assert services.search_resources(market, "登记", sharing="open_share").count == 1
    browse = services.search_resources(market, "", with_facets=True)
    assert browse.count == 4
    assert {e["value"]: e["count"] for e in browse.facets["department"]} == {"market": 2, "health": 2}


def test_public_search_sees_open_resources_only(people):
    market, reviewer = people
    publish(market, reviewer, name="婚姻登记信息", opening="closed")
    publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open", items=enterprise_items())
    assert names(services.search_resources(ANONYMOUS, "登记")) == ["企业登记信息"]
    assert services.search_resources(market, "登记").count == 2
    assert services.search_resources(market, "登记", public_portal=True).count == 1


def test_drafts_are_not_searchable_and_the_index_follows_the_lifecycle(people):
    market, reviewer = people
    draft = services.create_resource(market, {**_data("婚姻登记信息")})
    assert services.search_resources(market, "婚姻").count == 0
    services.submit(market, draft.code)
    services.review(reviewer, draft.code, approve=True)
    assert services.search_resources(market, "婚姻").count == 1
    services.revise(market, draft.code)
    services.update_draft(market, draft.code, _data("结婚登记信息"))
    services.submit(market, draft.code)
    services.review(reviewer, draft.code, approve=True)
    assert services.search_resources(market, "婚姻").count == 0  # v1 superseded, left the index
    hits = services.search_resources(market, "结婚")
    assert [(r.code, r.version) for r in hits.items] == [(draft.code, 2)]
    services.deprecate(market, draft.code, "停用")
    assert services.search_resources(market, "结婚").count == 0


def test_unknown_words_fall_back_to_a_name_scan(people):
    market, reviewer = people
    publish(market, reviewer, name="杭州市古树名木养护信息")
    assert names(services.search_resources(market, "树名")) == ["杭州市古树名木养护信息"]
    assert services.search_resources(market, "完全不存在的词").count == 0


def test_broad_queries_rank_a_head_and_page_through_the_rest(people, monkeypatch):
    market, reviewer = people
    monkeypatch.setattr(search, "CANDIDATES", 3)
    named = [publish(market, reviewer, name=f"企业信息{n}", items=enterprise_items()) for n in range(5)]
    other = publish(market, reviewer, name="其他资源", abstract="涉及企业的说明。", items=enterprise_items())
    result = services.search_resources(market, "企业", page_size=10)
    assert result.count == 6 and result.count_exact  # every match is counted
    codes = [r.code for r in result.items]
    # The head (the first 3 name matches) is ranked; the rest follows by tier, then by id.
    assert set(codes[:3]) == {r.code for r in named[:3]}
    assert codes[3:] == [named[3].code, named[4].code, other.code]
    page2 = services.search_resources(market, "企业", page=2, page_size=3)
    assert [r.code for r in page2.items] == codes[3:]
    assert services.search_resources(market, "企业", page=3, page_size=3).items == []


def _data(name):
    from tests.catalog.factories import resource_data

    return resource_data(name=name, abstract="说明。", keywords=[])


def test_words_spread_over_name_and_keywords_rank_in_the_keywords_tier(people):
    market, reviewer = people
    spread = publish(market, reviewer, name="古树名木信息", abstract="说明。", keywords=["养护"])
    in_abstract = publish(market, reviewer, name="古树名木目录", abstract="日常养护的说明。", keywords=[])
    result = services.search_resources(market, "古树名木 养护")
    assert [r.code for r in result.items] == [spread.code, in_abstract.code]
