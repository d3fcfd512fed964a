"""Policy service (政策通): policies with machine-readable eligibility rules, profile snapshots,
bulk match runs, deliveries (送达) to matched subjects, benefit grants (免申即享) and ratings.

The chain the seeds name — publish → aggregate → view → deliver → handle → supervise →
evaluate (发布、汇聚、查看、送达、办理、督查、评价) — maps to: ``Policy`` published by its
department; the library aggregates every department's and level's published policies; views
counted per policy and per delivery; ``Delivery`` rows with inbox notices; handling by a
one-click application (``application_number``) or an automatic ``BenefitGrant``; supervision
computed from these rows; ``PolicyRating`` by beneficiaries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tongban.identity.models import Department


class Policy(models.Model):
    class Target(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprises")
        CITIZEN = "citizen", _("Citizens")

    class Mode(models.TextChoices):
        APPLY = "apply", _("One-click application")  # 一键申报
        AUTO_GRANT = "auto_grant", _("Granted without application")  # 免申即享
        NOTIFY = "notify", _("Notice only")  # 仅告知

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Theme(models.TextChoices):
        EMPLOYMENT = "employment", _("Jobs and employment")
        INNOVATION = "innovation", _("Science and innovation")
        FINANCE = "finance", _("Finance and credit")
        TALENT = "talent", _("Talent")
        ELDERLY = "elderly", _("Elderly care")
        ASSISTANCE = "assistance", _("Social assistance")
        BUSINESS = "business", _("Business development")
        FAMILY = "family", _("Family and children")

    code = models.CharField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=250, blank=True)
    document_number = models.CharField(_("document number"), max_length=100)  # 文号
    department = models.ForeignKey(Department, verbose_name=_("issuing department"), on_delete=models.PROTECT,
                                   related_name="policies")
    summary = models.TextField(_("summary"))
    full_text = models.TextField(_("full text"), blank=True)
    target = models.CharField(_("target"), max_length=12, choices=Target.choices)
    theme = models.CharField(_("theme"), max_length=20, choices=Theme.choices)
    mode = models.CharField(_("mode"), max_length=12, choices=Mode.choices)
    benefit = models.CharField(_("benefit (as published)"), max_length=300, blank=True)
    # The amount per beneficiary: a fixed amount, or a JSON-Logic formula over the profile
    # (e.g. {"*": [{"var": "insured_count"}, 1000]}), capped by ``benefit_cap`` when set.
    benefit_amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True)
    benefit_formula = models.JSONField(_("amount formula"), null=True, blank=True)
    benefit_cap = models.DecimalField(_("amount cap (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True)
    service_item = models.CharField(_("service item for applications"), max_length=60, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    apply_from = models.DateField(_("applications from"), null=True, blank=True)
    apply_until = models.DateField(_("applications until"), null=True, blank=True)
    handling_days = models.PositiveIntegerField(_("handling time limit (working days)"), default=15)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    created_by = models.CharField(_("created by"), max_length=150)
    # The last official who changed the draft: with created_by and the rule's author, one who may
    # not publish a policy that pays without application (four-eyes, services.policies).
    updated_by = models.CharField(_("last changed by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["-published_at", "code"]
        indexes = [models.Index(fields=["status", "target"], name="policies_status_target")]

    def __str__(self) -> str:
        return self.title


class EligibilityRule(models.Model):
    """One version of a policy's eligibility rule (JSON-Logic over the profile variables)."""

    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="rules")
    version = models.PositiveIntegerField(_("version"))
    logic = models.JSONField(_("rule"))
    description = models.TextField(_("description"), blank=True)
    is_current = models.BooleanField(_("current"), default=True)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # A second official's confirmation (双人复核): publishing confirms the version it publishes; a
    # new version of a published auto-grant policy pays nothing until another official confirms it.
    confirmed_by = models.CharField(_("confirmed by"), max_length=150, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("eligibility rule")
        verbose_name_plural = _("eligibility rules")
        ordering = ["policy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policies_rule_version"),
            models.UniqueConstraint(fields=["policy"], condition=Q(is_current=True), name="policies_one_current"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.code} v{self.version}"


class ProfileSnapshot(models.Model):
    """Profiles of every subject of one kind, built from shared data at one moment (a Parquet
    file under the data directory, read by the analytic engine)."""

    class Status(models.TextChoices):
        BUILDING = "building", _("Building")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    target = models.CharField(_("target"), max_length=12, choices=Policy.Target.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.BUILDING)
    path = models.CharField(_("file"), max_length=300, blank=True)
    rows = models.PositiveIntegerField(_("profiles"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    as_of = models.DateField(_("as of"))
    sources = models.JSONField(_("sources"), default=dict, blank=True)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("profile snapshot")
        verbose_name_plural = _("profile snapshots")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.target} {self.as_of} ({self.rows})"


class MatchRun(models.Model):
    """One bulk match of one policy's rule version against one snapshot. The matches are kept
    compactly: a bitmap over the snapshot's profile ordinals (zlib-compressed 64-bit words)."""

    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="runs")
    rule_version = models.PositiveIntegerField(_("rule version"))
    snapshot = models.ForeignKey(ProfileSnapshot, verbose_name=_("snapshot"), on_delete=models.PROTECT,
                                 related_name="runs")
    job = models.ForeignKey("core.Job", verbose_name=_("job"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="+")
    matched = models.PositiveIntegerField(_("matched"), default=0)
    bitmap = models.BinaryField(_("matches (bitmap)"), default=b"")
    delivered = models.PositiveIntegerField(_("notices sent"), default=0)
    granted = models.PositiveIntegerField(_("granted"), default=0)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("match run")
        verbose_name_plural = _("match runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.policy.code} v{self.rule_version}: {self.matched}"


class Delivery(models.Model):
    """A policy delivered (送达) to one matched subject that has an account, with the reasons."""

    class Status(models.TextChoices):
        NOTIFIED = "notified", _("Notified")
        VIEWED = "viewed", _("Viewed")
        APPLIED = "applied", _("Applied")
        GRANTED = "granted", _("Granted")
        DECLINED = "declined", _("Declined")

    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="deliveries")
    run = models.ForeignKey(MatchRun, verbose_name=_("match run"), null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE,
                             related_name="policy_deliveries")
    subject = models.CharField(_("subject"), max_length=18)  # USCC or ID number of the beneficiary
    rule_version = models.PositiveIntegerField(_("rule version"))
    reasons = models.JSONField(_("reasons"), default=list)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NOTIFIED)
    notified_at = models.DateTimeField(_("notified at"))
    viewed_at = models.DateTimeField(_("viewed at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    due_on = models.DateField(_("handling due on"), null=True, blank=True)
    application_number = models.CharField(_("application"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-notified_at"]
        constraints = [models.UniqueConstraint(fields=["policy", "subject"], name="policies_one_delivery")]
        indexes = [models.Index(fields=["user", "status"], name="policies_delivery_user")]

    def __str__(self) -> str:
        return f"{self.policy.code} → {self.user_id}"


class BenefitGrant(models.Model):
    """A benefit granted without application (免申即享): the amount, recorded in the ledger."""

    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="grants")
    delivery = models.OneToOneField(Delivery, verbose_name=_("delivery"), on_delete=models.PROTECT,
                                    related_name="grant")
    subject = models.CharField(_("subject"), max_length=18)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=14, decimal_places=2)
    rule_version = models.PositiveIntegerField(_("rule version"))
    granted_at = models.DateTimeField(_("granted at"))
    ledger_event = models.PositiveBigIntegerField(_("ledger event"), null=True, blank=True)

    class Meta:
        verbose_name = _("benefit grant")
        verbose_name_plural = _("benefit grants")
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"{self.policy.code}: {self.amount}"


class PolicyRating(models.Model):
    """A beneficiary's evaluation (评价) of how a policy reached them."""

    delivery = models.OneToOneField(Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE,
                                    related_name="rating")
    score = models.PositiveSmallIntegerField(_("score"))  # 1 (very dissatisfied) .. 5 (very satisfied)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy rating")
        verbose_name_plural = _("policy ratings")
        constraints = [models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="policies_score_range")]

    def __str__(self) -> str:
        return f"{self.delivery_id}: {self.score}"
