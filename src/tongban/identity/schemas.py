from __future__ import annotations

from ninja import Field, Schema


class TokenIn(Schema):
    username: str = Field(max_length=150)
    password: str = Field(max_length=256)
    otp: str | None = Field(default=None, max_length=10)


class TokenOut(Schema):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int


class CitizenIn(Schema):
    username: str = Field(max_length=40)
    id_number: str = Field(max_length=30)
    name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=20)
    password: str = Field(max_length=256)


class EnterpriseIn(Schema):
    username: str = Field(max_length=40)
    uscc: str = Field(max_length=30)
    name: str = Field(max_length=150)
    password: str = Field(max_length=256)
    legal_representative: str = Field(default="", max_length=50)


class AccountOut(Schema):
    username: str
    kind: str


class MeOut(Schema):
    username: str
    kind: str
    full_name: str
    department: str | None = None
    department_name: str | None = None
    roles: list[str] = []
    id_number: str | None = None
    uscc: str | None = None
    scopes: list[str] | None = None


class SystemTokenIn(Schema):
    name: str = Field(max_length=100)
    scopes: list[str]
    expires_in_days: int = 90


class SystemTokenOut(Schema):
    id: int
    name: str
    prefix: str
    department: str
    scopes: list[str]
    created_at: str
    expires_at: str
    revoked: bool
    last_used_at: str | None = None


class SystemTokenCreatedOut(SystemTokenOut):
    access_token: str


class OfficialIn(Schema):
    username: str = Field(max_length=40)
    full_name: str = Field(max_length=100)
    password: str = Field(max_length=256)
    roles: list[str]
    department: str | None = None
    phone: str = Field(default="", max_length=20)


class OfficialOut(Schema):
    username: str
    full_name: str
    department: str
    roles: list[str]
    is_active: bool


class RolesIn(Schema):
    roles: list[str]


class PasswordChangeIn(Schema):
    old_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)
