"""Request plumbing shared by every app: language choice, security headers, API errors."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseBadRequest
from django.utils import translation
from django.utils.cache import patch_vary_headers

from tongban.core.errors import DomainError
from tongban.core.http import error_response, status_error

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


class ChineseFirstLocaleMiddleware:
    """Chinese unless the visitor chose otherwise.

    Pages ignore the browser's Accept-Language: a Chinese government portal opens in Chinese
    and offers English through the switch (which sets the language cookie). API clients may
    ask for English with Accept-Language, since they have no switch to click.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.supported:
            if _is_api(request):
                language = translation.get_language_from_request(request)
            else:
                language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set: CSP and Permissions-Policy.

    Scripts only from our own origin (HTMX and ECharts are served by us, never a CDN).
    Inline styles are allowed because the API docs (Swagger UI) and ECharts set them.
    """

    CSP = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
    )
    PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.CSP)
        response.headers.setdefault("Permissions-Policy", self.PERMISSIONS)
        return response


class ApiErrorEnvelopeMiddleware:
    """Every error under /api/ answers in the JSON envelope, even when Django made it.

    django-ninja's handlers already answer our domain errors as JSON; this catches what
    happens outside them: an unknown path (Django's 404 page), a wrong method, a CSRF
    failure, an unhandled crash (Django's 500 page).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            _is_api(request)
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            wrapped = error_response(status_error(response.status_code))
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    wrapped[header] = response[header]
            return wrapped
        return response


class RefuseNulMiddleware:
    """400 for the NUL character (U+0000) in the path or the query string.

    No page or operation has a use for it, and PostgreSQL refuses it in any text parameter: a
    search for ``%00`` or a code ``a%00b`` in a path was a 500 there (SQLite took it as data).
    Bodies are checked where they are parsed (JSON: ``core.api``; forms: Django's fields)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            error = DomainError("请求地址中不能含有空字符（U+0000）",
                                "The address must not contain the NUL character (U+0000)", code="nul_character")
            if _is_api(request):
                return error_response(error)
            return HttpResponseBadRequest(f"{error.message_zh} / {error.message_en}",
                                          content_type="text/plain; charset=utf-8")
        return self.get_response(request)
