"""The credentials demo: types, the demo holders' credentials, region B's list; idempotent."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from tongban.credentials import services
from tongban.credentials.models import CertificateType, Credential
from tongban.identity.access import actor_for_user
from tongban.identity.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]


def test_demo_credentials(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("demo", stdout=io.StringIO())
    count = Credential.objects.count()
    call_command("demo", stdout=io.StringIO())
    assert Credential.objects.count() == count
    assert set(CertificateType.objects.values_list("code", flat=True)) >= {
        "business_licence", "marriage_certificate", "birth_medical_certificate", "degree_certificate",
        "food_business_licence", "health_code"}
    citizen = services.my_credentials(actor_for_user(User.objects.get(username="citizen-demo")))
    assert {"marriage_certificate", "health_code"} <= {c.type.code for c in citizen}
    assert all(services.verify(c.qr_text).valid for c in citizen)
    enterprise = services.my_credentials(actor_for_user(User.objects.get(username="enterprise-demo")))
    assert "business_licence" in {c.type.code for c in enterprise}

    demo = tmp_path / "demo"
    sample = (demo / "region-820000-health-code.jwt").read_text().strip()
    assert not services.verify(sample).valid
    bureau = actor_for_user(User.objects.get(username="bureau-admin"))
    root = json.loads((demo / "region-820000-trust-list.jws.root.json").read_text())
    services.import_trust_list(bureau, (demo / "region-820000-trust-list.jws").read_text().strip(), root, "820000")
    assert services.verify(sample).valid
