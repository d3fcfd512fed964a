"""The shared one-stop builders build what they promise (other helpers' tests rely on them)."""

from __future__ import annotations

import pytest

from tests.onestop import factories as f
from tongban.credentials.models import CertificateType

pytestmark = pytest.mark.django_db


def test_factories():
    item = f.service_item("market", co_departments=("health",), instant_rule={"==": [1, 1]},
                          certificate_type="x_cert", materials=[{"source": "upload", "name": "照片"}])
    assert item.status == "published" and item.co_departments.get().code == "health"
    assert item.rules.get().is_current and item.materials.get().source == "upload"
    assert CertificateType.objects.get(code="x_cert").department.code == "market"
    user, citizen = f.citizen_applicant()
    assert citizen.user == user
    enterprise_user, enterprise = f.enterprise_applicant()
    assert enterprise.user == enterprise_user
    assert f.actor(f.clerk("market")).roles == {"clerk"}
    assert f.actor(f.approver("health")).department_code == "health"
    assert f.actor(None).kind == "anonymous"
