"""Files the applicant uploads for a material (when the government does not already hold it).

Only the applicant, only while the application is a draft or awaiting a supplement, only for a
material of the item that is not a form section. Limits: ``MAX_BYTES`` (10 MB) per file,
``MAX_FILES`` per material, PDF / JPEG / PNG only — checked by the file's first bytes, not by
its name or the browser's content type. The stored name is chosen here (a random hex name
with the type's extension, under ``onestop/<yyyy>/<mm>/`` in the data directory), so nothing
the applicant sends reaches the file system path; the original name is kept, cleaned, for
display only. Each file's SHA-256 is stored and recorded in the ledger (``onestop.uploaded`` /
``onestop.upload_removed``). Callers hold the transaction.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from tongban.core.errors import Conflict, InvalidInput, NotFound
from tongban.identity.access import Actor
from tongban.onestop.models import Application, Material, Upload
from tongban.onestop.services import transitions
from tongban.onestop.services.transitions import S

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
EDITABLE = (S.DRAFT, S.SUPPLEMENT_REQUESTED)
# (extension, content type, magic prefix)
TYPES = (
    ("pdf", "application/pdf", b"%PDF-"),
    ("png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("jpg", "image/jpeg", b"\xff\xd8\xff"),
)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def clean_name(name: str) -> str:
    """The original file name for display: its last path part, without control or path characters."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    base = _UNSAFE.sub("_", base).strip(" .")
    return (base or "file")[:200]


def sniff(head: bytes) -> tuple[str, str] | None:
    for extension, content_type, magic in TYPES:
        if head.startswith(magic):
            return extension, content_type
    return None


def _read(uploaded_file: Any) -> bytes:
    """At most MAX_BYTES + 1 bytes of the file (a Django UploadedFile, a file object or bytes)."""
    if isinstance(uploaded_file, (bytes, bytearray)):
        return bytes(uploaded_file[:MAX_BYTES + 1])
    size = getattr(uploaded_file, "size", None)
    if isinstance(size, int) and size > MAX_BYTES:
        return b"\0" * (MAX_BYTES + 1)
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    if hasattr(uploaded_file, "chunks"):
        parts, total = [], 0
        for chunk in uploaded_file.chunks():
            parts.append(chunk)
            total += len(chunk)
            if total > MAX_BYTES:
                break
        return b"".join(parts)[:MAX_BYTES + 1]
    return uploaded_file.read(MAX_BYTES + 1)


def _own_editable(actor: Actor, number: str) -> Application:
    application = transitions.locked(number)
    if actor.user_id is None or application.applicant_id != actor.user_id:
        raise NotFound("没有这个办件", "No such application")
    if application.status not in EDITABLE:
        raise Conflict("办件已提交，不能再修改材料", "The application can no longer be changed",
                       code="not_editable", details={"status": application.status})
    return application


def add_upload(actor: Actor, number: str, material_id: int, uploaded_file: Any) -> Upload:
    application = _own_editable(actor, number)
    material = Material.objects.filter(pk=material_id, item_id=application.item_id).first() \
        if str(material_id).isdigit() else None
    if material is None:
        raise InvalidInput("该事项没有这项材料", "The item has no such material", code="unknown_material",
                           details={"material": material_id})
    if material.source == Material.Source.FORM:
        raise InvalidInput("这项材料通过填写表单提供，无需上传", "This material is given by the form, not uploaded",
                           code="not_an_upload", details={"material": material.pk})
    if Upload.objects.filter(application=application, material=material).count() >= MAX_FILES:
        raise InvalidInput(f"每项材料最多上传 {MAX_FILES} 个文件", f"At most {MAX_FILES} files per material",
                           code="too_many_files", details={"material": material.pk, "max": MAX_FILES})
    content = _read(uploaded_file)
    if len(content) > MAX_BYTES:
        raise InvalidInput("文件超过 10 MB", "The file is larger than 10 MB", code="file_too_large",
                           details={"max_bytes": MAX_BYTES})
    if not content:
        raise InvalidInput("文件为空", "The file is empty", code="empty_file")
    kind = sniff(content[:16])
    if kind is None:
        raise InvalidInput("只接受 PDF、JPG、PNG 文件", "Only PDF, JPG and PNG files are accepted",
                           code="file_type_not_allowed", details={"allowed": [t[0] for t in TYPES]})
    extension, content_type = kind
    digest = hashlib.sha256(content).hexdigest()
    upload = Upload(application=application, material=material, content_type=content_type, size=len(content),
                    sha256=digest, original_name=clean_name(getattr(uploaded_file, "name", "") or f"file.{extension}"))
    upload.file.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(content), save=False)
    upload.save()
    transitions.record(application, transitions.actor_name(actor), "uploaded", department=None,
                       payload={"material": material.pk, "sha256": digest, "size": len(content), "type": extension})
    return upload


def remove_upload(actor: Actor, number: str, upload_id: int) -> None:
    application = _own_editable(actor, number)
    upload = Upload.objects.filter(pk=upload_id, application=application).first()
    if upload is None:
        raise NotFound("没有这个文件", "No such file")
    digest, material_id = upload.sha256, upload.material_id
    storage, name = upload.file.storage, upload.file.name
    upload.delete()
    transaction.on_commit(lambda: storage.delete(name))  # the file goes only if the removal commits
    transitions.record(application, transitions.actor_name(actor), "upload_removed", department=None,
                       payload={"material": material_id, "sha256": digest})


def uploads_of(application: Application) -> list[Upload]:
    return list(application.uploads.all().order_by("material_id", "pk"))
