"""The exchange's own tables: hosted records with their history and change sequence, access
requests, grants, the per-access log (the durable queue into the ledger), webhook deliveries.

Resources are named by their catalog ``code`` (a string): the published version changes on
revision, the code does not. Departments are foreign keys to identity's ``Department``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tongban.identity.models import Department


class Mode(models.TextChoices):
    QUERY = "query", _("Query")
    VERIFY = "verify", _("Verify")
    SUBSCRIBE = "subscribe", _("Subscribe")


class ResourceState(models.Model):
    """Per-resource exchange state: the change-sequence counter and the provider's settings.

    ``last_seq`` is taken under this row's lock by each load, so the change feed of a resource
    is gapless and in commit order (a cursor never skips a change committed later).
    """

    resource_code = models.CharField(_("resource code"), max_length=60, primary_key=True)
    department = models.ForeignKey(Department, verbose_name=_("provider department"), on_delete=models.PROTECT,
                                   related_name="+")
    last_seq = models.BigIntegerField(_("last change sequence"), default=0)
    record_count = models.PositiveIntegerField(_("records"), default=0)
    last_loaded_at = models.DateTimeField(_("last loaded at"), null=True, blank=True)
    # 不予共享 resources: the provider may still offer verification (核验) of claims.
    verify_when_not_shared = models.BooleanField(_("allow verification although not shared"), default=False)

    class Meta:
        verbose_name = _("resource exchange state")
        verbose_name_plural = _("resource exchange states")

    def __str__(self) -> str:
        return f"{self.resource_code} (seq {self.last_seq})"


class Batch(models.Model):
    """One accepted load (归集批次) of a resource's records. Rejected batches leave no row."""

    class Channel(models.TextChoices):
        API = "api", _("API")
        CSV = "csv", _("CSV upload")
        DEMO = "demo", _("Demo data")

    resource_code = models.CharField(_("resource code"), max_length=60, db_index=True)
    department = models.ForeignKey(Department, verbose_name=_("provider department"), on_delete=models.PROTECT,
                                   related_name="+")
    loaded_by = models.CharField(_("loaded by"), max_length=150)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    inserted = models.PositiveIntegerField(_("new records"), default=0)
    updated = models.PositiveIntegerField(_("changed records"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged records"), default=0)
    sha256 = models.CharField(_("batch hash (SHA-256)"), max_length=64)
    first_seq = models.BigIntegerField(_("first change sequence"), null=True, blank=True)
    last_seq = models.BigIntegerField(_("last change sequence"), null=True, blank=True)
    created_at = models.DateTimeField(_("loaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("record batch")
        verbose_name_plural = _("record batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.resource_code} #{self.pk} ({self.rows})"


class Record(models.Model):
    """The current version of one subject's record in one resource (upserted by subject key)."""

    resource_code = models.CharField(_("resource code"), max_length=60)
    subject = models.CharField(_("subject (ID number or USCC)"), max_length=18)
    data = models.JSONField(_("data"))
    seq = models.BigIntegerField(_("change sequence"))
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("record")
        verbose_name_plural = _("records")
        constraints = [
            models.UniqueConstraint(fields=["resource_code", "subject"], name="exchange_one_record_per_subject"),
        ]
        indexes = [models.Index(fields=["subject"], name="exchange_record_subject")]

    def __str__(self) -> str:
        return f"{self.resource_code} · {self.subject[:6]}…"


class RecordVersion(models.Model):
    """Every change of a record (history, and the change feed read by ``seq``)."""

    resource_code = models.CharField(_("resource code"), max_length=60)
    seq = models.BigIntegerField(_("change sequence"))
    subject = models.CharField(_("subject (ID number or USCC)"), max_length=18)
    data = models.JSONField(_("data"))
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), on_delete=models.PROTECT, related_name="versions")
    created_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("record version")
        verbose_name_plural = _("record versions")
        ordering = ["resource_code", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["resource_code", "seq"], name="exchange_unique_change_seq"),
        ]
        indexes = [models.Index(fields=["subject", "resource_code"], name="exchange_version_subject")]

    def __str__(self) -> str:
        return f"{self.resource_code} @{self.seq}"


class AccessRequest(models.Model):
    """A consumer department's request (共享申请) for chosen items of a resource."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    resource_code = models.CharField(_("resource code"), max_length=60, db_index=True)
    resource_name = models.CharField(_("resource name"), max_length=200)
    provider = models.ForeignKey(Department, verbose_name=_("provider department"), on_delete=models.PROTECT,
                                 related_name="+")
    consumer = models.ForeignKey(Department, verbose_name=_("consumer department"), on_delete=models.PROTECT,
                                 related_name="+")
    requested_by = models.CharField(_("requested by"), max_length=150)
    items = models.JSONField(_("items"), default=list)
    modes = models.JSONField(_("modes"), default=list)
    purpose = models.CharField(_("purpose"), max_length=500)
    scenario = models.TextField(_("usage scenario"), blank=True)
    legal_basis = models.TextField(_("legal basis"))
    duration_days = models.PositiveIntegerField(_("requested duration (days)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True)
    due_on = models.DateField(_("answer due on"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    escalated_by = models.CharField(_("escalated by"), max_length=150, blank=True)
    escalation_note = models.TextField(_("escalation note"), blank=True)

    class Meta:
        verbose_name = _("access request")
        verbose_name_plural = _("access requests")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_on"], name="exchange_request_due"),
            models.Index(fields=["provider", "status"], name="exchange_request_provider"),
            models.Index(fields=["consumer", "status"], name="exchange_request_consumer"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.resource_code} → {self.consumer_id}"


class Grant(models.Model):
    """What a consumer department may do with a resource: items, modes, purpose, expiry, rate."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    request = models.OneToOneField(AccessRequest, verbose_name=_("access request"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="grant")
    resource_code = models.CharField(_("resource code"), max_length=60)
    provider = models.ForeignKey(Department, verbose_name=_("provider department"), on_delete=models.PROTECT,
                                 related_name="+")
    consumer = models.ForeignKey(Department, verbose_name=_("consumer department"), on_delete=models.PROTECT,
                                 related_name="+")
    items = models.JSONField(_("granted items"), default=list)
    clear_items = models.JSONField(_("items returned in clear"), default=list, blank=True)
    modes = models.JSONField(_("modes"), default=list)
    purpose = models.CharField(_("purpose"), max_length=500)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(_("rate limit (requests per minute)"), default=600)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    starts_at = models.DateTimeField(_("valid from"))
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.CharField(_("granted by"), max_length=150)
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=150, blank=True)
    revoke_reason = models.TextField(_("revocation reason"), blank=True)
    # Subscribe mode: optional push of changes to the consumer's endpoint, signed with HMAC.
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    webhook_secret = models.CharField(_("webhook secret"), max_length=64, blank=True)
    webhook_cursor = models.BigIntegerField(_("webhook delivered up to"), default=0)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["consumer", "resource_code", "status"], name="exchange_grant_lookup"),
            models.Index(fields=["provider", "status"], name="exchange_grant_provider"),
        ]

    def __str__(self) -> str:
        return f"grant #{self.pk} {self.resource_code} → {self.consumer_id}"


class Access(models.Model):
    """One access to shared records: the durable queue of per-access ledger entries.

    Written in the request's short write transaction (so an access that was answered is never
    lost); ``tongban.exchange.services.sealing`` turns pending rows into ledger entries in
    batches and sets ``ledger_event``. ``subject_hash`` is the ledger's keyed hash (the person can
    find it, nobody can read the number); a lookup of many subjects lists them in AccessSubject.
    """

    at = models.DateTimeField(_("time"))
    grant = models.ForeignKey(Grant, verbose_name=_("grant"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="accesses")
    resource_code = models.CharField(_("resource code"), max_length=60)
    consumer_code = models.CharField(_("consumer department"), max_length=64)
    actor = models.CharField(_("caller"), max_length=150)
    mode = models.CharField(_("mode"), max_length=10)  # query / lookup / verify / changes / open
    items = models.JSONField(_("items"), default=list)
    purpose = models.CharField(_("purpose"), max_length=500, blank=True)
    subject_hash = models.CharField(_("subject hash"), max_length=64, blank=True, db_index=True)
    subject_count = models.PositiveIntegerField(_("subjects"), default=0)
    found = models.PositiveIntegerField(_("records found"), default=0)
    ledger_event_id = models.BigIntegerField(_("ledger event"), null=True, blank=True)

    class Meta:
        verbose_name = _("data access")
        verbose_name_plural = _("data accesses")
        ordering = ["-at", "-id"]
        indexes = [
            # Only the pending rows (the sealing queue): the index stays as small as the backlog,
            # so each consuming request's insert and each seal's marking touch a few hot pages
            # rather than an index over every access ever made.
            models.Index(fields=["id"], condition=models.Q(ledger_event_id__isnull=True),
                         name="exchange_access_pending"),
            models.Index(fields=["consumer_code", "at"], name="exchange_access_consumer"),
        ]

    def __str__(self) -> str:
        return f"{self.mode} {self.resource_code} by {self.consumer_code}"


class AccessQueueMark(models.Model):
    """How far an SQLite access-queue file has been moved into ``Access`` (``services.access_queue``).

    Advanced in the same transaction as the rows it covers, so a row is moved exactly once; keyed
    by the queue file's own identity, so a queue file made anew starts from nothing.
    """

    queue = models.CharField(_("access queue"), max_length=32, primary_key=True)
    moved_through = models.BigIntegerField(_("moved through"), default=0)

    class Meta:
        verbose_name = _("access queue mark")
        verbose_name_plural = _("access queue marks")

    def __str__(self) -> str:
        return f"{self.queue}: {self.moved_through}"


class AccessSubject(models.Model):
    """The subjects of a multi-subject access (lookup), by keyed hash."""

    access = models.ForeignKey(Access, verbose_name=_("data access"), on_delete=models.CASCADE,
                               related_name="subjects")
    subject_hash = models.CharField(_("subject hash"), max_length=64, db_index=True)

    class Meta:
        verbose_name = _("accessed subject")
        verbose_name_plural = _("accessed subjects")

    def __str__(self) -> str:
        return f"{self.access_id}: {self.subject_hash[:12]}…"


class RateWindow(models.Model):
    """Requests counted per grant per minute (shared by every worker process)."""

    grant = models.ForeignKey(Grant, verbose_name=_("grant"), on_delete=models.CASCADE, related_name="+")
    minute = models.BigIntegerField(_("minute (Unix time / 60)"))
    count = models.PositiveIntegerField(_("requests"), default=0)

    class Meta:
        verbose_name = _("rate window")
        verbose_name_plural = _("rate windows")
        constraints = [models.UniqueConstraint(fields=["grant", "minute"], name="exchange_one_window")]

    def __str__(self) -> str:
        return f"grant {self.grant_id} @{self.minute}: {self.count}"


class WebhookDelivery(models.Model):
    """One push of changes to a subscriber's webhook, retried with back-off until delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Gave up")

    grant = models.ForeignKey(Grant, verbose_name=_("grant"), on_delete=models.CASCADE, related_name="deliveries")
    from_seq = models.BigIntegerField(_("from sequence"))
    to_seq = models.BigIntegerField(_("to sequence"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="exchange_delivery_due")]
        constraints = [
            models.CheckConstraint(condition=Q(to_seq__gte=models.F("from_seq")), name="exchange_delivery_range"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.from_seq}..{self.to_seq} → grant {self.grant_id}"
