"""TOTP two-factor authentication (django-otp), required for the platform's most powerful roles."""

from __future__ import annotations

import segno
from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.core.errors import InvalidInput
from tongban.identity import events
from tongban.identity.models import User

DEVICE_NAME = "authenticator"


def mfa_required(user: User) -> bool:
    """Whether this user must present a TOTP code (setting ``TONGBAN_MFA_REQUIRED``)."""
    if not settings.TONGBAN_MFA_REQUIRED or user.kind != User.Kind.OFFICIAL:
        return False
    roles = set(user.role_assignments.values_list("role", flat=True))
    return bool(roles.intersection(settings.TONGBAN_MFA_ROLES))


def has_confirmed_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def verify_totp(user: User, code: str) -> bool:
    code = (code or "").strip()
    if not code.isdigit():
        return False
    return any(device.verify_token(code) for device in TOTPDevice.objects.filter(user=user, confirmed=True))


def start_enrolment(user: User) -> TOTPDevice:
    """An unconfirmed device with a fresh secret; replaces an earlier unconfirmed one."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def enrolment_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URI as an inline SVG QR code for authenticator apps."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4)


def confirm_enrolment(user: User, code: str) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None or not code or not device.verify_token(code.strip()):
        raise InvalidInput("动态验证码不正确，请重试", "The code does not match; try again", code="invalid_otp")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    events.record_auth_event(events.MFA_ENROLLED, actor=user.username)
    return device
