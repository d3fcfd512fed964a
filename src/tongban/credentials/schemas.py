from __future__ import annotations

from typing import Any

from ninja import Schema


class VerifyIn(Schema):
    credential: str


class IssueIn(Schema):
    type: str
    holder: str  # ID number or USCC
    fields: dict[str, Any] = {}


class RevokeIn(Schema):
    reason: str = ""


class CredentialOut(Schema):
    id: str
    type: str
    type_name: str
    issuer: str
    holder_name: str
    issued_at: str
    valid_until: str | None
    status: str
    subject: dict[str, Any]
    vc_jwt: str
    qr_text: str


class TrustListImportIn(Schema):
    token: str
    root_jwk: dict[str, Any]
    region: str | None = None


class TrustedRegionOut(Schema):
    region: str
    name: str
    sequence: int
    imported_at: str


class PresentIn(Schema):
    audience: str  # e.g. "onestop:<item code>"
    purpose: str


class PresentationOut(Schema):
    id: str
    credential: str
    audience: str
    purpose: str
    expires_at: str
    token: str
