"""Certificate types, issued credentials, status lists and imported regions' trust lists."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

STATUS_LIST_SIZE = 131072


class CertificateType(models.Model):
    class HolderKind(models.TextChoices):
        CITIZEN = "citizen", _("Citizen")
        ENTERPRISE = "enterprise", _("Enterprise")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    department = models.ForeignKey("identity.Department", verbose_name=_("issuing department"),
                                   on_delete=models.PROTECT, related_name="certificate_types")
    holder_kind = models.CharField(_("holder kind"), max_length=12, choices=HolderKind.choices)
    # [{"key": "...", "name": "...", "data_element": "<identifier>", "required": bool}]
    fields = models.JSONField(_("fields"), default=list, blank=True)
    validity_days = models.PositiveIntegerField(_("validity (days)"), null=True, blank=True,
                                                help_text=_("Empty: no expiry."))
    multiple_allowed = models.BooleanField(_("several per holder"), default=False)

    class Meta:
        verbose_name = _("certificate type")
        verbose_name_plural = _("certificate types")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Credential(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.ForeignKey(CertificateType, verbose_name=_("certificate type"), on_delete=models.PROTECT,
                             related_name="credentials")
    citizen = models.ForeignKey("identity.Citizen", verbose_name=_("citizen holder"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="credentials")
    enterprise = models.ForeignKey("identity.Enterprise", verbose_name=_("enterprise holder"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="credentials")
    subject = models.JSONField(_("subject fields"), default=dict)
    issued_at = models.DateTimeField(_("issued at"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    revocation_list = models.PositiveIntegerField(_("revocation list"))
    revocation_index = models.PositiveIntegerField(_("revocation index"))
    suspension_list = models.PositiveIntegerField(_("suspension list"))
    suspension_index = models.PositiveIntegerField(_("suspension index"))
    vc_jwt = models.TextField(_("VC-JWT"))
    qr_text = models.TextField(_("QR text"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    suspended = models.BooleanField(_("suspended"), default=False)
    issued_by = models.CharField(_("issued by"), max_length=150)

    class Meta:
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(citizen__isnull=False, enterprise__isnull=True)
                           | models.Q(citizen__isnull=True, enterprise__isnull=False)),
                name="credential_one_holder"),
        ]

    def __str__(self) -> str:
        return f"{self.type.code} {self.pk}"

    @property
    def holder(self):
        return self.citizen or self.enterprise

    @property
    def holder_identifier(self) -> str:
        return self.citizen.id_number if self.citizen_id else self.enterprise.uscc

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "suspended" if self.suspended else "active"


class StatusListRow(models.Model):
    class Purpose(models.TextChoices):
        REVOCATION = "revocation", _("Revocation")
        SUSPENSION = "suspension", _("Suspension")

    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices)
    list_id = models.PositiveIntegerField(_("list number"))
    bits = models.BinaryField(_("bits"))
    size = models.PositiveIntegerField(_("size"), default=STATUS_LIST_SIZE)
    next_index = models.PositiveIntegerField(_("next free index"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("status list")
        verbose_name_plural = _("status lists")
        constraints = [models.UniqueConstraint(fields=["purpose", "list_id"], name="status_list_unique")]

    def __str__(self) -> str:
        return f"{self.purpose}/{self.list_id}"


class TrustedRegion(models.Model):
    region = models.CharField(_("region code"), max_length=6)
    name = models.CharField(_("name"), max_length=100, blank=True)
    root_jwk = models.JSONField(_("pinned root key (JWK)"))
    token = models.TextField(_("imported trust list"))
    sequence = models.PositiveBigIntegerField(_("sequence"), default=0)
    imported_at = models.DateTimeField(_("imported at"))
    imported_by = models.CharField(_("imported by"), max_length=150, blank=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("trusted region")
        verbose_name_plural = _("trusted regions")
        ordering = ["region", "-imported_at"]

    def __str__(self) -> str:
        return f"{self.region} {self.name}"


class Verification(models.Model):
    """A verification that happened on this platform by a signed-in verifier (shown to the holder)."""

    credential = models.ForeignKey(Credential, verbose_name=_("credential"), on_delete=models.CASCADE,
                                   related_name="verifications")
    verifier = models.CharField(_("verifier"), max_length=150)
    department = models.CharField(_("department"), max_length=100, blank=True)
    valid = models.BooleanField(_("valid"))
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.verifier} {self.at:%Y-%m-%d %H:%M}"
