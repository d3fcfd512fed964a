"""Oversight cockpit (驾驶舱): data quality computed from the records, department assessment,
security events and alerts.

Statistics (sharing flows, service figures) are computed from the other apps' tables on demand
and need no table of their own; what is kept here is what has history or a workflow.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.identity.models import Department


class QualityScore(models.Model):
    """One resource's data quality at one computation (a new row each time: the history).
    Each dimension is 0–100 (None: not applicable, e.g. consistency of a resource that shares
    no item with another); ``score`` is their weighted mean over the applicable ones."""

    resource_code = models.CharField(_("resource code"), max_length=60, db_index=True)
    resource_name = models.CharField(_("resource name"), max_length=200)
    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="quality_scores")
    computed_at = models.DateTimeField(_("computed at"), db_index=True)
    records = models.PositiveIntegerField(_("records"), default=0)
    completeness = models.FloatField(_("completeness"), null=True, blank=True)
    validity = models.FloatField(_("validity"), null=True, blank=True)
    timeliness = models.FloatField(_("timeliness"), null=True, blank=True)
    uniqueness = models.FloatField(_("uniqueness"), null=True, blank=True)
    consistency = models.FloatField(_("consistency"), null=True, blank=True)
    score = models.FloatField(_("score"))
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("data quality score")
        verbose_name_plural = _("data quality scores")
        ordering = ["-computed_at", "resource_code"]
        indexes = [models.Index(fields=["resource_code", "computed_at"], name="oversight_quality_history")]

    def __str__(self) -> str:
        return f"{self.resource_code} {self.score:.1f}"


class QualityIssue(models.Model):
    """One offending record of a score (the worst ones, listed for the resource's steward)."""

    score = models.ForeignKey(QualityScore, verbose_name=_("score"), on_delete=models.CASCADE, related_name="issues")
    dimension = models.CharField(_("dimension"), max_length=20)
    subject = models.CharField(_("subject"), max_length=18)  # the steward's own record's key
    item = models.CharField(_("item"), max_length=60, blank=True)
    problem = models.CharField(_("problem"), max_length=300)

    class Meta:
        verbose_name = _("data quality issue")
        verbose_name_plural = _("data quality issues")

    def __str__(self) -> str:
        return f"{self.dimension}: {self.problem}"


class AssessmentScore(models.Model):
    """A department's assessment (考核) for one period: each indicator 0–100 and the weighted total."""

    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="assessment_scores")
    period = models.CharField(_("period"), max_length=10)  # "2026-11" (month) or "2026-Q4"
    indicators = models.JSONField(_("indicators"), default=dict)
    weights = models.JSONField(_("weights used"), default=dict)
    total = models.FloatField(_("total"))
    rank = models.PositiveIntegerField(_("rank"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("department assessment")
        verbose_name_plural = _("department assessments")
        ordering = ["-period", "rank"]
        constraints = [models.UniqueConstraint(fields=["department", "period"], name="oversight_one_score_per_period")]

    def __str__(self) -> str:
        return f"{self.department} {self.period}: {self.total:.1f}"


class SecurityEvent(models.Model):
    """An authorization refusal (403) or rate limit (429) on the API, kept for detection rules
    (successful accesses are the exchange's ``Access`` rows; logins are django-axes')."""

    at = models.DateTimeField(_("time"), db_index=True)
    kind = models.CharField(_("kind"), max_length=20)  # forbidden / rate_limited
    code = models.CharField(_("error code"), max_length=40, blank=True)
    actor = models.CharField(_("caller"), max_length=150, blank=True)
    department_code = models.CharField(_("department"), max_length=64, blank=True)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        indexes = [models.Index(fields=["actor", "at"], name="oversight_event_actor")]

    def __str__(self) -> str:
        return f"{self.kind} {self.actor} {self.path}"


class Alert(models.Model):
    """A security alert (安全预警) raised by a detection rule, with its evidence and workflow."""

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")
        FALSE_ALARM = "false_alarm", _("False alarm")

    rule = models.CharField(_("rule"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    status = models.CharField(_("status"), max_length=14, choices=Status.choices, default=Status.NEW)
    department = models.ForeignKey(Department, verbose_name=_("department concerned"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="alerts")
    actor = models.CharField(_("caller"), max_length=150, blank=True)  # the user or system token
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=250)
    summary = models.TextField(_("summary"), blank=True)
    evidence = models.JSONField(_("evidence"), default=list)  # [{"kind", "ledger_index"?, "access"?, ...}]
    dedup_key = models.CharField(_("deduplication key"), max_length=200, unique=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    count = models.PositiveIntegerField(_("occurrences"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("security alert")
        verbose_name_plural = _("security alerts")
        ordering = ["-last_seen"]
        indexes = [models.Index(fields=["status", "severity"], name="oversight_alert_open")]

    def __str__(self) -> str:
        return f"{self.rule} {self.severity} {self.status}"


class AlertNote(models.Model):
    """A step of an alert's workflow (new → acknowledged → resolved / false alarm), with a note."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="notes")
    author = models.CharField(_("author"), max_length=150)
    from_status = models.CharField(_("from"), max_length=14)
    to_status = models.CharField(_("to"), max_length=14)
    text = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert note")
        verbose_name_plural = _("alert notes")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.alert_id}: {self.from_status} → {self.to_status}"
