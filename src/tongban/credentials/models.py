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
            # One status entry per credential: a racing allocation fails here instead of sharing a bit.
            models.UniqueConstraint(fields=["revocation_list", "revocation_index"], name="credential_revocation_entry"),
            models.UniqueConstraint(fields=["suspension_list", "suspension_index"], name="credential_suspension_entry"),
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


class RemoteStatusList(models.Model):
    """Another region's status list credential, as last fetched: a cache shared by every worker.

    ``token`` is kept as fetched and checked again (signature, region) whenever it is read;
    ``expires_at`` is the fetch time plus the list's ``ttl`` (bounded, and never past the list
    credential's ``validUntil``). A failed fetch is remembered in ``error`` until ``retry_after``
    so a region that is down is not asked again on every verification.
    """

    url = models.CharField(_("status list URL"), max_length=500, unique=True)
    region = models.CharField(_("region code"), max_length=6)
    token = models.TextField(_("status list credential"), blank=True)
    fetched_at = models.DateTimeField(_("fetched at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("cached until"), null=True, blank=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    retry_after = models.DateTimeField(_("retry after"), null=True, blank=True)

    class Meta:
        verbose_name = _("remote status list")
        verbose_name_plural = _("remote status lists")

    def __str__(self) -> str:
        return self.url


class Presentation(models.Model):
    """A holder's choice to present one credential to one audience for one purpose, briefly."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    credential = models.ForeignKey(Credential, verbose_name=_("credential"), on_delete=models.CASCADE,
                                   related_name="presentations")
    audience = models.CharField(_("audience"), max_length=120)
    purpose = models.CharField(_("purpose"), max_length=200)
    presented_by = models.CharField(_("presented by"), max_length=150)
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    redeemed_by = models.CharField(_("redeemed by"), max_length=150, blank=True)

    #: The signed reference token, set by ``services.present`` on the instance it answers (not stored).
    token: str = ""

    class Meta:
        verbose_name = _("presentation")
        verbose_name_plural = _("presentations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.audience} {self.created_at:%Y-%m-%d %H:%M}"


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
