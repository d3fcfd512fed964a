"""The API's error envelope: ``{"error": {"code", "message", "messages", "details"}}``."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from tongban.core.errors import DomainError

# Messages for errors raised by the framework rather than by our services (unknown path,
# wrong method, body too large, crash). Chinese first, English second.
STATUS_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求格式有误", "The request is malformed"),
    401: ("not_authenticated", "未登录或凭证无效", "Authentication required or credentials invalid"),
    403: ("permission_denied", "无权执行此操作", "You are not allowed to do this"),
    404: ("not_found", "未找到该资源", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    409: ("conflict", "与当前状态冲突", "Conflicts with the current state"),
    413: ("payload_too_large", "请求体过大", "Request body too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported content type"),
    422: ("invalid_input", "输入无效", "Invalid input"),
    429: ("rate_limited", "请求过于频繁", "Too many requests"),
    500: ("internal_error", "服务器内部错误，请稍后重试", "Internal server error; please retry later"),
    503: ("unavailable", "服务暂不可用", "Service unavailable"),
}


def error_response(error: DomainError, status: int | None = None) -> JsonResponse:
    return JsonResponse({"error": error.as_dict()}, status=status or error.status,
                        json_dumps_params={"ensure_ascii": False})


def status_error(status: int, details: Any = None) -> DomainError:
    """A DomainError describing a bare HTTP status (used for framework-made errors)."""
    code, zh, en = STATUS_ERRORS.get(status) or STATUS_ERRORS[500 if status >= 500 else 400]
    error = DomainError(zh, en, code=code, details=details)
    error.status = status
    return error
