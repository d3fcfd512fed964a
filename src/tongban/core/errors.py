"""Domain errors with stable codes.

Every error a user can cause is a ``DomainError`` subclass carrying a stable machine code, a
Chinese and an English message, and optional details. The API turns them into
``{"error": {"code", "message", "details"}}`` with the class's HTTP status; pages show the
message in the active language. Services raise these; they never return error values.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language


class DomainError(Exception):
    """Base of all errors the platform reports to a caller."""

    status = 400
    code = "bad_request"
    message_zh = "请求有误"
    message_en = "Bad request"

    def __init__(
        self,
        message_zh: str | None = None,
        message_en: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        if message_zh is not None:
            self.message_zh = message_zh
        if message_en is not None:
            self.message_en = message_en
        if code is not None:
            self.code = code
        self.details = details
        super().__init__(f"{self.code}: {self.message_en}")

    @property
    def message(self) -> str:
        """The message in the active language (Chinese unless English is active)."""
        language = (get_language() or "zh-hans").lower()
        return self.message_en if language.startswith("en") else self.message_zh

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "messages": {"zh-hans": self.message_zh, "en": self.message_en},
            "details": self.details,
        }


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    message_zh = "未登录或凭证无效"
    message_en = "Authentication required or credentials invalid"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    message_zh = "无权执行此操作"
    message_en = "You are not allowed to do this"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message_zh = "未找到"
    message_en = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message_zh = "与当前状态冲突"
    message_en = "Conflicts with the current state"


class InvalidInput(DomainError):
    status = 422
    code = "invalid_input"
    message_zh = "输入无效"
    message_en = "Invalid input"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    message_zh = "请求过于频繁"
    message_en = "Too many requests"
