"""Tests of the pure-Python credentials core (no Django, no database), and shared builders."""

from __future__ import annotations

import copy
from typing import Any

from tongban.credentials.keys import Ed25519SigningKey, SigningKey
from tongban.credentials.statuslist import StatusList, status_entry
from tongban.credentials.trustlist import (
    TrustList,
    build_trust_list,
    issuer_entry,
    open_trust_list,
    sign_trust_list,
)
from tongban.credentials.truststore import TrustStore

# 2026-01-01T00:00:00Z, 2031-01-01T00:00:00Z, and "now" in between.
JAN_2026 = 1767225600
JAN_2031 = 1924992000
NOW = 1780000000  # 2026-05-28
LIST_UNTIL = 2208988800  # 2040-01-01: trust lists outlive the credentials in these tests

ISSUER_A = "https://gd.tongban.example/issuers/market"
ISSUER_B = "https://mo.tongban.example/issuers/health"
REVOCATION_URL = "https://gd.tongban.example/credentials/status/1"
SUSPENSION_URL = "https://gd.tongban.example/credentials/status/2"


def credential(**overrides: Any) -> dict[str, Any]:
    """A business licence (营业执照) credential of issuer A, valid 2026-2031, revocable and suspendable."""
    base: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:7d0b5f0e-5a8e-4c47-9b1a-0c8a3c1d2e3f",
        "type": ["VerifiableCredential", "BusinessLicenceCredential"],
        "issuer": {"id": ISSUER_A, "name": "广东省市场监督管理局"},
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2031-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "urn:uscc:91440300MA5FXXXX1X",
            "type": "Enterprise",
            "name": "深圳示例科技有限公司",
            "legalRepresentative": "张三",
        },
        "credentialStatus": [
            status_entry("revocation", 94567, REVOCATION_URL),
            status_entry("suspension", 23452, SUSPENSION_URL),
        ],
    }
    base.update(copy.deepcopy(overrides))
    return {k: v for k, v in base.items() if v is not None}


def qr_claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "urn:uuid:7d0b5f0e-5a8e-4c47-9b1a-0c8a3c1d2e3f",
        "issuer": ISSUER_A,
        "type": "business_licence",
        "subject_id": "sha256:3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea",
        "subject": {"name": "深圳示例科技有限公司", "uscc": "91440300MA5FXXXX1X"},
        "valid_from": JAN_2026,
        "valid_until": JAN_2031,
        "issued_at": JAN_2026,
        "status": [
            {"purpose": "revocation", "index": 94567, "list": REVOCATION_URL},
            {"purpose": "suspension", "index": 23452, "list": SUSPENSION_URL},
        ],
    }
    base.update(overrides)
    return base


class Region:
    """A region's node: a root key, one issuing key, its signed trust list and its status lists."""

    def __init__(self, code: str, issuer: str, key: SigningKey | None = None, name: str = "") -> None:
        self.code, self.issuer = code, issuer
        self.root = Ed25519SigningKey.generate()
        self.key = key or Ed25519SigningKey.generate()
        doc = build_trust_list(code, [issuer_entry(issuer, self.key, department=f"{name}市场监管局",
                                                   valid_from=JAN_2026 - 86400)],
                               region_name=name, valid_until=LIST_UNTIL, issued_at=JAN_2026)
        self.token = sign_trust_list(doc, self.root)
        self.revocation = StatusList()
        self.suspension = StatusList(purpose="suspension")

    def trust_list(self) -> TrustList:
        return open_trust_list(self.token, self.root.public_key(), region=self.code, now=NOW)

    def store(self) -> TrustStore:
        return TrustStore(self.trust_list())

    def status_lookup(self, url: str) -> StatusList | None:
        return {REVOCATION_URL: self.revocation, SUSPENSION_URL: self.suspension}.get(url)
