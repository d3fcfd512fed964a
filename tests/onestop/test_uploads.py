"""Uploads: who, when, which material, size and type limits (by content), safe stored names."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import Conflict, InvalidInput, NotFound
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Upload
from tongban.onestop.services import applications as apps
from tongban.onestop.services import uploads

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 20


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def draft_with_upload_material():
    item = f.service_item("civil", materials=[{"source": "upload", "name": "照片"}, {"source": "form", "name": "表"}])
    user, _ = f.citizen_applicant()
    return fa.start(user, item), user, {m.source: m for m in item.materials.all()}


def test_upload_stores_a_safe_name_and_its_hash(_media):
    application, user, materials = draft_with_upload_material()
    with transaction.atomic():
        upload = uploads.add_upload(f.actor(user), application.number, materials["upload"].pk,
                                    SimpleUploadedFile("../../etc/passwd\x00.pdf", PDF, content_type="text/plain"))
    assert upload.content_type == "application/pdf" and upload.size == len(PDF)
    assert upload.sha256 == hashlib.sha256(PDF).hexdigest()
    assert upload.original_name == "passwd_.pdf"
    stored = Path(upload.file.path).resolve()
    assert stored.is_relative_to(Path(_media).resolve()) and stored.name.endswith(".pdf") and ".." not in upload.file.name
    assert stored.read_bytes() == PDF
    assert LedgerEvent.objects.filter(action="onestop.uploaded").count() == 1
    assert apps.missing(application) == [{"field": "reason", "label": "申请事由"}]
    jpg = uploads.add_upload(f.actor(user), application.number, str(materials["upload"].pk), io.BytesIO(JPG))
    assert jpg.content_type == "image/jpeg" and jpg.original_name == "file.jpg"


@pytest.mark.parametrize(("content", "code"), [
    (b"GIF89a" + b"\0" * 10, "file_type_not_allowed"),
    (b"MZ\x90\x00 an exe renamed .pdf", "file_type_not_allowed"),
    (b"", "empty_file"),
])
def test_only_pdf_jpg_png_by_content(content, code):
    application, user, materials = draft_with_upload_material()
    with pytest.raises(InvalidInput) as refused:
        uploads.add_upload(f.actor(user), application.number, materials["upload"].pk,
                           SimpleUploadedFile("x.pdf", content, content_type="application/pdf"))
    assert refused.value.code == code
    assert not Upload.objects.exists()


def test_size_and_count_limits(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_BYTES", 64)
    monkeypatch.setattr(uploads, "MAX_FILES", 2)
    application, user, materials = draft_with_upload_material()
    actor, material = f.actor(user), materials["upload"].pk
    with pytest.raises(InvalidInput) as big:
        uploads.add_upload(actor, application.number, material, SimpleUploadedFile("big.pdf", PDF + b"\0" * 64))
    assert big.value.code == "file_too_large"
    uploads.add_upload(actor, application.number, material, SimpleUploadedFile("a.pdf", PDF))
    uploads.add_upload(actor, application.number, material, SimpleUploadedFile("b.pdf", PDF))
    with pytest.raises(InvalidInput) as many:
        uploads.add_upload(actor, application.number, material, SimpleUploadedFile("c.pdf", PDF))
    assert many.value.code == "too_many_files"


def test_the_real_limit_is_ten_megabytes():
    assert uploads.MAX_BYTES == 10 * 1024 * 1024
    application, user, materials = draft_with_upload_material()
    huge = SimpleUploadedFile("huge.pdf", PDF + b"\0" * uploads.MAX_BYTES)
    with pytest.raises(InvalidInput) as big:
        uploads.add_upload(f.actor(user), application.number, materials["upload"].pk, huge)
    assert big.value.code == "file_too_large"


def test_who_which_material_and_when():
    application, user, materials = draft_with_upload_material()
    file = SimpleUploadedFile("a.pdf", PDF)
    with pytest.raises(NotFound):
        uploads.add_upload(f.actor(f.citizen_applicant()[0]), application.number, materials["upload"].pk, file)
    with pytest.raises(InvalidInput) as form:
        uploads.add_upload(f.actor(user), application.number, materials["form"].pk, file)
    assert form.value.code == "not_an_upload"
    other = f.service_item("civil", materials=[{"source": "upload", "name": "别的"}]).materials.get()
    with pytest.raises(InvalidInput) as foreign:
        uploads.add_upload(f.actor(user), application.number, other.pk, file)
    assert foreign.value.code == "unknown_material"
    apps.save_form(f.actor(user), application.number, {"reason": "x"})
    uploads.add_upload(f.actor(user), application.number, materials["upload"].pk, file)
    apps.submit(f.actor(user), application.number)
    with pytest.raises(Conflict) as late:
        uploads.add_upload(f.actor(user), application.number, materials["upload"].pk, SimpleUploadedFile("b.pdf", PDF))
    assert late.value.code == "not_editable"


def test_remove_upload_deletes_the_file_after_commit():
    application, user, materials = draft_with_upload_material()
    with transaction.atomic():
        upload = uploads.add_upload(f.actor(user), application.number, materials["upload"].pk,
                                    SimpleUploadedFile("a.pdf", PDF))
    path = Path(upload.file.path)
    with pytest.raises(NotFound):
        uploads.remove_upload(f.actor(user), application.number, 999999)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        uploads.remove_upload(f.actor(user), application.number, upload.pk)
    assert not Upload.objects.exists() and not path.exists()
    assert LedgerEvent.objects.filter(action="onestop.upload_removed").count() == 1


def test_clean_name():
    assert uploads.clean_name("C:\\Users\\me\\身份证.PNG") == "身份证.PNG"
    assert uploads.clean_name("..") == "file"
    assert uploads.clean_name("a<b>|c.pdf") == "a_b_c.pdf"
    assert len(uploads.clean_name("x" * 500 + ".pdf")) == 200
