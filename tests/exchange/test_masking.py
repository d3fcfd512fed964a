"""Masking rules, one by one, with None and short values; and on real catalog items."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest

from tests.exchange.factories import id_number, person_resource
from tests.exchange.factories_access import _fresh_caches  # noqa: F401 - autouse fixture
from tongban.catalog import services as catalog
from tongban.exchange.services import masking
from tongban.exchange.services.masking import mask, region


def item(masking_rule="none", head=0, tail=0, *, personal=False, kind="string", element=""):
    data_element = SimpleNamespace(identifier=element) if element else None
    return SimpleNamespace(masking=masking_rule, mask_head=head, mask_tail=tail, personal_sensitive=personal,
                           effective_type=kind, data_element=data_element, data_element_id=1 if element else None)


# --- keep_ends --------------------------------------------------------------------------------------------


def test_keep_ends_hides_one_star_per_hidden_character():
    assert mask(item("keep_ends", 6, 4), "330106198001010012") == "330106********0012"
    assert mask(item("keep_ends", 3, 4), "13812345678") == "138****5678"
    assert mask(item("keep_ends", 1, 0), "欧阳娜娜") == "欧***"


def test_keep_ends_short_values_are_hidden_whole():
    assert mask(item("keep_ends", 1, 0), "张") == "*"
    assert mask(item("keep_ends", 3, 4), "1234567") == "*******"
    assert mask(item("keep_ends", 3, 4), "12345678") == "123*5678"
    assert mask(item("keep_ends", 2, 2), "") == ""


def test_keep_ends_of_non_text_values():
    assert mask(item("keep_ends", 1, 1), 123456) == "1****6"


# --- full and hash ----------------------------------------------------------------------------------------


def test_full_hides_value_and_length():
    assert mask(item("full"), "短") == "***"
    assert mask(item("full"), "很长很长的一段文字内容") == "***"


@pytest.mark.django_db
def test_hash_is_keyed_short_and_stable(settings, tmp_path):
    rule = item("hash")
    first = mask(rule, "13812345678")
    assert first == mask(rule, "13812345678")
    assert len(first) == masking.HASH_CHARS and first != "13812345678"
    assert first != mask(rule, "13812345679")
    # Not a plain digest of a guessable value: whoever enumerates phone numbers cannot match it.
    assert first != hashlib.sha256(b"13812345678").hexdigest()[:16]
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "another-node"
    assert mask(rule, "13812345678") != first  # another key, another digest


# --- region -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "masked"), [
    ("浙江省杭州市西湖区文三路90号", "浙江省杭州市西湖区****"),
    ("北京市朝阳区三里屯西区8号", "北京市朝阳区****"),
    ("杭州市西湖区西溪花园小区", "杭州市西湖区****"),
    ("浙江省义乌市稠州北路100号", "浙江省义乌市****"),
    ("湖北省荆州市沙市区北京路1号", "湖北省荆州市沙市区****"),
    ("云南省大理白族自治州大理市下关镇", "云南省大理白族自治州大理市****"),
    ("新疆维吾尔自治区乌鲁木齐市天山区解放路", "新疆维吾尔自治区乌鲁木齐市天山区****"),
    ("内蒙古自治区锡林郭勒盟正蓝旗上都镇", "内蒙古自治区锡林郭勒盟正蓝旗****"),
    ("四川省凉山彝族自治州木里藏族自治县乔瓦镇", "四川省凉山彝族自治州木里藏族自治县****"),
    ("上海市浦东新区张江镇", "上海市浦东新区****"),
    ("浙江省某某路1号", "浙江省****"),
])
def test_region_keeps_up_to_the_county(address, masked):
    assert region(address) == masked


def test_region_fallback_never_reveals_a_whole_short_address():
    assert region("文三路90号院内东侧小区") == "文三路90号****"  # the first six characters
    assert region("文三路90号院内") == "文三路9****"  # never more than half
    assert region("文三路90号") == "文三路****"
    assert region("x") == "****"
    assert mask(item("region"), None) is None


def test_region_of_a_bare_region_hides_nothing_more():
    assert region("广东省广州市天河区") == "广东省广州市天河区"


# --- none: defaults for personal-sensitive items ----------------------------------------------------------


def test_none_is_clear_for_items_not_personal():
    assert mask(item("none"), "浙江省杭州市西湖区文三路90号") == "浙江省杭州市西湖区文三路90号"
    assert mask(item("none"), 42) == 42


def test_none_defaults_by_kind_for_personal_items():
    assert mask(item(personal=True, kind="id_number"), "33010619800101001x") == "330106********001X"
    assert mask(item(personal=True, kind="phone", element="DE00006"), "13812345678") == "138****5678"
    assert mask(item(personal=True, element="DE00002"), "张三丰") == "张**"
    assert mask(item(personal=True, element="DE00014"), "浙江省杭州市西湖区文三路90号") == "浙江省杭州市西湖区****"
    assert mask(item(personal=True), "其他个人信息") == "***"


@pytest.mark.parametrize("rule", ["none", "keep_ends", "full", "hash", "region"])
def test_none_stays_none(rule):
    assert mask(item(rule, 1, 1, personal=True), None) is None


# --- on the catalog's own items ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_masking_of_catalog_items():
    resource = person_resource("civil")
    items = {i.key: i for i in catalog.items_of(resource)}
    number = id_number(7)
    assert mask(items["id_number"], number) == number[:6] + "********" + number[-4:]
    assert mask(items["name"], "张三") == "张*"
    assert mask(items["phone"], "13800000007") == "138****0007"
    assert mask(items["address"], "浙江省杭州市西湖区文三路90号") == "浙江省杭州市西湖区****"
    assert mask(items["sex"], "1") == "1"
