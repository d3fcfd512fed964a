"""Pages: the wallet 我的证照 (/me/credentials/, with "use in an application") and the verifier 证照核验
(/credentials/verify/)."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from tongban.core.errors import DomainError
from tongban.credentials import qr, services
from tongban.credentials.verify import MAX_INPUT
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.identity.decorators import error_page, verified_login_required
from tongban.identity.mfa import mfa_required


def _actor(request):
    user = request.user
    if not user.is_authenticated:
        return ANONYMOUS
    if mfa_required(user) and not (getattr(user, "is_verified", None) and user.is_verified()):
        return ANONYMOUS
    return actor_for_user(user)


def _svg(text: str, **options) -> str:
    svg = qr.qr_svg(text, scale=3, **options)
    return svg[svg.index("<svg"):] if "<svg" in svg else svg


@verified_login_required
def wallet(request):
    actor = _actor(request)
    try:
        credentials = list(services.my_credentials(actor).select_related("citizen", "enterprise")
                           .prefetch_related("verifications"))
    except DomainError as error:
        return error_page(request, error)
    shown = request.GET.get("show")
    items = [{"credential": c, "qr": mark_safe(_svg(c.qr_text)) if str(c.pk) == shown else None}  # noqa: S308 - segno SVG
             for c in credentials]
    return render(request, "credentials/wallet.html", {"items": items})


@verified_login_required
def download(request, credential_id):
    try:
        credential = services.my_credential(_actor(request), credential_id)
    except DomainError as error:
        return error_page(request, error)
    response = HttpResponse(credential.vc_jwt, content_type="application/vc+jwt")
    response["Content-Disposition"] = f'attachment; filename="{credential.type.code}-{credential.pk}.jwt"'
    return response


@verified_login_required
@require_http_methods(["GET", "POST"])
def present_page(request, credential_id):
    """"Use in an application": the holder names the service item and purpose; a one-time token
    (and its QR code) valid for 10 minutes is shown, for the one-stop service to redeem."""
    actor = _actor(request)
    try:
        credential = services.my_credential(actor, credential_id)
    except DomainError as error:
        return error_page(request, error)
    context = {"credential": credential, "item": "", "purpose": "", "presentation": None, "error": None}
    if request.method == "POST":
        context["item"] = request.POST.get("item", "").strip()[:80]
        context["purpose"] = request.POST.get("purpose", "").strip()[:200]
        try:
            with transaction.atomic():
                presentation = services.present(actor, credential.pk, audience=f"onestop:{context['item']}",
                                                purpose=context["purpose"])
        except DomainError as error:
            context["error"] = error
        else:
            context["presentation"] = presentation
            context["qr"] = mark_safe(_svg(presentation.token, error="m", mode=None))  # noqa: S308 - segno SVG
    return render(request, "credentials/present.html", context)


@require_http_methods(["GET", "POST"])
def verify_page(request):
    result = None
    text = ""
    if request.method == "POST":
        text = request.POST.get("credential", "")
        upload = request.FILES.get("file")
        if upload is not None:
            text = upload.read(MAX_INPUT + 1).decode("utf-8", "replace")
        verified = services.verify(text)  # reads only: no transaction while a status list is fetched
        actor = _actor(request)
        if actor.is_authenticated:
            with transaction.atomic():
                services.record_verification(actor, verified)
        result = verified.to_dict()
    return render(request, "credentials/verify.html", {"result": result, "text": text[:MAX_INPUT]})
