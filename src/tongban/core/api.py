"""Error handling shared by every router of the API (mounted in ``tongban.site.api``)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from tongban.core.errors import DomainError, InvalidInput, NotAuthenticated, NotFound
from tongban.core.http import error_response, status_error

logger = logging.getLogger("tongban.api")


def _validation_details(errors: list[dict]) -> list[dict]:
    """Pydantic's errors, reduced to what a caller needs to fix the input (no echo of values)."""
    details = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        details.append({"location": location, "type": error.get("type"), "message": error.get("msg")})
    return details


MAX_JSON_DEPTH = 100  # no operation takes anything near it; deeper values would reach recursive code


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_body(body: bytes | str) -> Any:
    """A JSON request body, or a DomainError (400) saying why it is not one: not JSON at all (bad
    syntax, not UTF-8), or nested deeper than ``MAX_JSON_DEPTH`` (a RecursionError in the decoder
    or in whatever walks the value later, not a 500)."""
    too_deep = DomainError("JSON 嵌套层级过深", "The JSON is nested too deeply", code="json_too_deep",
                           details={"max_depth": MAX_JSON_DEPTH})
    try:
        value = json.loads(body)
    except RecursionError:
        raise too_deep from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise DomainError("请求体不是有效的 JSON", "The body is not valid JSON", code="bad_request") from None
    opening = (b"[", b"{") if isinstance(body, bytes) else ("[", "{")
    if body.count(opening[0]) + body.count(opening[1]) > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


# Text no database can store: U+0000 (PostgreSQL refuses it in text and jsonb) and unpaired UTF-16
# surrogates (not Unicode at all; encoding them to UTF-8 fails, in the driver or in the answer).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# How a body can carry either: an escape, \u0000 or \ud800-\udfff (paired surrogates too, which
# decode to one character and pass), or a surrogate's bytes in UTF-8 form (ED A0-BF ..), which
# Python's JSON decoder lets through. A body without any of these is not walked.
_UNSTORABLE_IN_BODY = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")
_UNSTORABLE_PROBLEMS = {
    "string_nul_character": "Text must not contain the NUL character (U+0000)",
    "string_unpaired_surrogate": "Text must not contain an unpaired surrogate (U+D800-U+DFFF)",
}


def _unstorable(value: Any) -> tuple[list[str], str] | None:
    """Where the first string with unstorable text sits in a decoded JSON value (a key holding
    some: the object's location, so no such key is echoed), and which problem; or None."""
    stack: list[tuple[Any, list[str]]] = [(value, ["body"])]
    while stack:
        node, location = stack.pop()
        if isinstance(node, str):
            found = _UNSTORABLE.search(node)
        elif isinstance(node, dict):
            found = next((m for m in map(_UNSTORABLE.search, node) if m), None)
            if found is None:
                stack.extend((child, [*location, key]) for key, child in node.items())
        elif isinstance(node, list):
            found = None
            stack.extend((child, [*location, str(index)]) for index, child in enumerate(node))
        else:
            found = None
        if found is not None:
            return location, "string_nul_character" if found.group() == "\x00" else "string_unpaired_surrogate"
    return None


def refuse_unstorable_text(value: Any, body: bytes) -> None:
    """Refuse (422) a JSON body with NUL or an unpaired surrogate in any string (or key). No
    operation has a use for them; PostgreSQL cannot store NUL, nothing can encode a lone
    surrogate, and SQLite would keep a NUL that then compares unlike what the caller sees. One
    check here, for every JSON operation, rather than a validator on each text field. (The records
    batch parses its own body: its row check refuses the same text, see exchange.services.records.)"""
    if not _UNSTORABLE_IN_BODY.search(body):
        return
    found = _unstorable(value)
    if found is not None:
        location, problem = found
        raise InvalidInput("文本中含有无法保存的字符（空字符 U+0000 或不成对的代理项）",
                           "Text contains a character that cannot be stored (NUL U+0000 or an unpaired surrogate)",
                           details=[{"location": location, "type": problem, "message": _UNSTORABLE_PROBLEMS[problem]}])


class JsonParser(Parser):
    """Bodies of JSON operations: JSON content types only (415 for text/plain, form-encoded …, which
    django-ninja would otherwise parse as JSON), and a clear error for a body that is not JSON."""

    def parse_body(self, request):
        content_type = (request.content_type or "").lower()  # None: a part of a multipart body
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            error = DomainError("请以 JSON 发送请求体，并设置 Content-Type: application/json",
                                "Send the body as JSON with Content-Type: application/json",
                                code="unsupported_media_type", details={"accepted": ["application/json"]})
            error.status = 415
            raise error
        value = json_body(request.body)
        refuse_unstorable_text(value, request.body)
        return value


def install_error_handlers(api: NinjaAPI) -> None:
    api.parser = JsonParser()

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return error_response(exc)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return error_response(InvalidInput(details=_validation_details(exc.errors)))

    @api.exception_handler(AuthenticationError)
    def authentication_error(request, exc: AuthenticationError):
        return error_response(NotAuthenticated())

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        return error_response(NotFound())

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if isinstance(exc.__cause__, DomainError):  # raised by JsonParser, wrapped by django-ninja
            return error_response(exc.__cause__)
        return error_response(status_error(exc.status_code))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request, exc: SuspiciousOperation):
        # Reading request.body / request.POST: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields.
        if isinstance(exc, RequestDataTooBig):
            return error_response(status_error(413, {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}))
        return error_response(status_error(400))

    @api.exception_handler(Exception)
    def unexpected(request, exc: Exception):
        # Logged with the traceback for operators; the caller learns nothing internal.
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(status_error(500))
