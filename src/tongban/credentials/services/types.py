"""Certificate types for the apps above (the one-stop demo defines the types its items produce).

``upsert_certificate_type`` creates or updates a type by code, in the caller's transaction. It is
a set-up function (demo loaders, management commands), not a use case for users: it checks the
shape of the definition, not who calls it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tongban.core.errors import InvalidInput
from tongban.credentials.models import CertificateType
from tongban.identity.models import Department

CODE = re.compile(r"[a-z][a-z0-9_-]{1,39}")
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,49}")


def _clean_fields(fields: Iterable[dict]) -> list[dict]:
    cleaned, seen = [], set()
    for n, spec in enumerate(fields or ()):
        key = str(spec.get("key", "")) if isinstance(spec, dict) else ""
        if not FIELD_KEY.fullmatch(key) or key in seen or not str(spec.get("name", "")).strip():
            raise InvalidInput("证照字段定义无效", "Invalid certificate field definition", code="invalid_fields",
                               details={"field": n, "key": key})
        seen.add(key)
        cleaned.append({"key": key, "name": str(spec["name"]).strip(), "data_element": spec.get("data_element"),
                        "required": bool(spec.get("required", False))})
    return cleaned


def upsert_certificate_type(code: str, *, name: str, name_en: str, department_code: str, holder_kind: str,
                            validity_days: int | None = None, multiple_allowed: bool = False,
                            fields: Iterable[dict] = ()) -> CertificateType:
    """Creates or updates certificate type ``code``, issued by ``department_code`` to ``holder_kind``
    (``citizen`` / ``enterprise``) holders; ``fields``: ``[{"key", "name", "data_element", "required"}]``."""
    if not CODE.fullmatch(code or ""):
        raise InvalidInput("证照类型代码无效", "Invalid certificate type code", code="invalid_code")
    if holder_kind not in CertificateType.HolderKind.values:
        raise InvalidInput("持证人类别无效", "Invalid holder kind", code="invalid_holder_kind")
    if validity_days is not None and validity_days < 1:
        raise InvalidInput("有效期无效", "Invalid validity", code="invalid_validity")
    department = Department.objects.filter(code=department_code).first()
    if department is None:
        raise InvalidInput("签发部门不存在", "No such issuing department", code="unknown_department")
    row, _ = CertificateType.objects.update_or_create(code=code, defaults={
        "name": name, "name_en": name_en, "department": department, "holder_kind": holder_kind,
        "validity_days": validity_days, "multiple_allowed": multiple_allowed, "fields": _clean_fields(fields)})
    return row
