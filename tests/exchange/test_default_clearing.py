"""An item the steward hid — by a masking rule or a higher grade — is masked by default in
grants and never in open data, even when it is not marked personal-sensitive."""

from __future__ import annotations

import pytest

from tests.exchange.factories import ENTERPRISE_ITEMS, enterprise_resource
from tongban.exchange.services import opendata, requests

pytestmark = pytest.mark.django_db

HIDDEN = [
    *ENTERPRISE_ITEMS,
    {"key": "decided_on", "name": "处罚决定日期", "data_type": "date", "masking": "full"},
    {"key": "penalty", "name": "处罚内容", "data_type": "string", "grade": "core"},
    {"key": "offence", "name": "违法行为类型", "data_type": "string", "grade": "important"},
    {"key": "decision_number", "name": "处罚决定书文号", "data_type": "string"},
]


@pytest.fixture
def resource(settings):
    settings.TONGBAN_MFA_REQUIRED = False
    return enterprise_resource(items=HIDDEN)


def test_default_clear_items_skip_masked_and_graded_items(resource):
    keys = [item["key"] for item in HIDDEN]
    cleared = requests.default_clear_items(resource, keys)
    assert "decision_number" in cleared and "org_name" in cleared
    for hidden in ("decided_on", "penalty", "offence", "legal_representative", "uscc"):
        assert hidden not in cleared


def test_open_data_leaves_out_masked_and_core_items(resource):
    columns = [column.key for column in opendata.columns_of(resource)]
    assert "decision_number" in columns and "offence" in columns
    assert "decided_on" not in columns and "penalty" not in columns and "legal_representative" not in columns
