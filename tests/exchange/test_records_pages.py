"""Steward pages for records: the department's resources, CSV upload with every bad row shown,
the batch history and the CSV template."""

from __future__ import annotations

import io

import pytest

from tests.exchange.factories import official, person_resource, person_row, steward
from tests.exchange.test_records_io import CHINESE, csv_bytes
from tongban.exchange.models import Batch, Record
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def login(client, actor):
    client.force_login(User.objects.get(username=actor.username))


def upload(client, code, data: bytes, name="records.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(f"/workbench/exchange/records/{code}/", {"file": file}, follow=True)


def test_steward_uploads_a_csv_and_sees_the_summary_and_history(client):
    resource = person_resource("civil")
    login(client, steward("civil"))
    index = client.get("/workbench/exchange/records/")
    assert index.status_code == 200
    body = index.content.decode()
    assert resource.name in body and f"/workbench/exchange/records/{resource.code}/" in body
    assert f'data-testid="record-count-{resource.code}">0<' in body

    page = client.get(f"/workbench/exchange/records/{resource.code}/")
    assert page.status_code == 200 and 'data-testid="record-template"' in page.content.decode()

    response = upload(client, resource.code, csv_bytes(CHINESE, [person_row(1), person_row(2)], bom=True))
    assert response.status_code == 200
    body = response.content.decode()
    batch = Batch.objects.get()
    assert 'data-testid="record-summary"' in body and batch.sha256 in body
    assert batch.channel == "csv" and Record.objects.count() == 2
    assert 'data-testid="record-batches"' in body and "CSV" in body
    assert 'data-testid="record-count-' + resource.code + '">2<' in client.get("/workbench/exchange/records/") \
        .content.decode()


def test_a_bad_upload_lists_every_bad_row_and_loads_nothing(client):
    resource = person_resource("civil")
    login(client, steward("civil"))
    rows = [person_row(1), person_row(2, marital_status="99"), person_row(3, name=None), person_row(4),
            person_row(5, registered_on="yesterday")]
    body = upload(client, resource.code, csv_bytes(CHINESE, rows)).content.decode()
    assert 'data-testid="record-errors"' in body
    table = body[body.index('data-testid="record-errors"'):]
    table = table[:table.index("</table>")]
    for fragment in ("code_not_in_list", "value_required", "invalid_date", "婚姻状况", "登记日期", "不在代码集中"):
        assert fragment in table, fragment
    assert table.count("<tr>") == 4  # header + 3 bad rows
    assert Record.objects.count() == Batch.objects.count() == 0

    unknown = upload(client, resource.code, "备注,姓名\n1,2\n".encode()).content.decode()
    assert "备注" in unknown and 'class="field-error"' in unknown


def test_template_has_the_chinese_item_names(client):
    resource = person_resource("civil")
    login(client, steward("civil"))
    response = client.get(f"/workbench/exchange/records/{resource.code}/template.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.content.decode("utf-8-sig").splitlines()[0] == ",".join(CHINESE)


def test_other_departments_and_other_roles_are_refused(client):
    resource = person_resource("civil")
    login(client, steward("health"))
    assert client.get(f"/workbench/exchange/records/{resource.code}/").status_code == 404
    assert upload(client, resource.code, csv_bytes(CHINESE, [person_row(1)])).status_code == 404
    assert client.get(f"/workbench/exchange/records/{resource.code}/template.csv").status_code == 404
    approver = official("civil", "approver")
    login(client, approver)
    assert client.get("/workbench/exchange/records/").status_code == 403
    page = client.get(f"/workbench/exchange/records/{resource.code}/")  # may read the history, not upload
    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    assert upload(client, resource.code, csv_bytes(CHINESE, [person_row(1)])).status_code == 403
    assert Batch.objects.count() == 0
    client.logout()
    assert client.get("/workbench/exchange/records/").status_code == 302
