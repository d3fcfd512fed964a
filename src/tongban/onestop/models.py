"""One-stop services (一网通办): service items with their guides and materials, applications
(办件) with their state machine, parallel review tasks, uploads, instant-approval rules, ratings
(好差评) and rectification tickets.

Other apps are referenced by stable codes, not foreign keys where the row may be revised:
certificate types by ``code`` (credentials), shared data by resource ``code`` + item keys
(catalog/exchange). Departments and users are identity foreign keys.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tongban.identity.models import Department


class ServiceItem(models.Model):
    """A government service item (政务服务事项) with the national elements of its guide."""

    class ItemType(models.TextChoices):
        LICENCE = "licence", _("Administrative licence")  # 行政许可
        PAYMENT = "payment", _("Administrative payment")  # 行政给付
        CONFIRMATION = "confirmation", _("Administrative confirmation")  # 行政确认
        FILING = "filing", _("Administrative filing")  # 行政备案
        PUBLIC_SERVICE = "public_service", _("Public service")  # 公共服务
        OTHER = "other", _("Other administrative power")  # 其他行政权力

    class ApplicantKind(models.TextChoices):
        CITIZEN = "citizen", _("Citizens")
        ENTERPRISE = "enterprise", _("Enterprises")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        WITHDRAWN = "withdrawn", pgettext_lazy("service item", "Withdrawn")

    code = models.CharField(_("implementation code"), max_length=60, unique=True)  # 实施编码
    basic_code = models.CharField(_("basic code"), max_length=40)  # 基本编码
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=250, blank=True)
    item_type = models.CharField(_("item type"), max_length=16, choices=ItemType.choices)
    applicant_kind = models.CharField(_("who applies"), max_length=12, choices=ApplicantKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    department = models.ForeignKey(Department, verbose_name=_("implementing department"), on_delete=models.PROTECT,
                                   related_name="service_items")
    co_departments = models.ManyToManyField(Department, verbose_name=_("co-handling departments"), blank=True,
                                            related_name="co_handled_items")
    summary = models.TextField(_("summary"), blank=True)
    legal_basis = models.TextField(_("legal basis"))
    conditions = models.TextField(_("acceptance conditions"))
    process = models.JSONField(_("process steps"), default=list, blank=True)
    statutory_days = models.PositiveIntegerField(_("statutory time limit (working days)"))
    promised_days = models.PositiveIntegerField(_("promised time limit (working days)"))
    visits = models.PositiveSmallIntegerField(_("on-site visits"), default=0)
    fees = models.CharField(_("fees"), max_length=200, blank=True, help_text=_("Empty: free of charge."))
    channels = models.JSONField(_("channels"), default=list, blank=True)  # online / window / mobile / mail
    situations = models.JSONField(_("situations"), default=list, blank=True)  # 新设 / 变更 / 延续 / 注销
    result_name = models.CharField(_("result"), max_length=200, blank=True)
    certificate_type = models.CharField(_("certificate type produced"), max_length=40, blank=True)
    theme = models.CharField(_("theme"), max_length=40, blank=True)
    life_events = models.JSONField(_("life events"), default=list, blank=True)  # 出生 / 就业 / 开办企业 ...
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    complaint = models.CharField(_("where to complain"), max_length=300, blank=True)
    # The application form: [{"key", "label", "label_en", "type", "required", "options"?, "prefill"?:
    # {"resource": code, "item": key}}]; validated by services.items.
    form_schema = models.JSONField(_("form fields"), default=list, blank=True)
    rectification_days = models.PositiveSmallIntegerField(_("days to rectify a bad rating (working days)"),
                                                          default=15)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service item")
        verbose_name_plural = _("service items")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def zero_visit(self) -> bool:
        return self.visits == 0


class Material(models.Model):
    """An application material (申请材料) and where it comes from."""

    class Necessity(models.TextChoices):
        REQUIRED = "required", _("Required")
        OPTIONAL = "optional", _("Optional")
        CONDITIONAL = "conditional", _("Required in some situations")

    class Source(models.TextChoices):
        CERTIFICATE = "certificate", _("E-certificate from the wallet")  # 免证办
        SHARED_DATA = "shared_data", _("Shared government data")  # 数据共享
        FORM = "form", _("Form section")
        UPLOAD = "upload", _("Upload")

    item = models.ForeignKey(ServiceItem, verbose_name=_("service item"), on_delete=models.CASCADE,
                             related_name="materials")
    name = models.CharField(_("name"), max_length=200)
    necessity = models.CharField(_("necessity"), max_length=12, choices=Necessity.choices,
                                 default=Necessity.REQUIRED)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    certificate_type = models.CharField(_("certificate type"), max_length=40, blank=True)
    resource_code = models.CharField(_("shared resource"), max_length=60, blank=True)
    resource_items = models.JSONField(_("shared items"), default=list, blank=True)
    form_section = models.CharField(_("form section"), max_length=60, blank=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    paper_copies = models.PositiveSmallIntegerField(_("paper copies (window only)"), default=0)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("material")
        verbose_name_plural = _("materials")
        ordering = ["item", "order", "pk"]

    def __str__(self) -> str:
        return self.name


class InstantRule(models.Model):
    """A versioned instant-approval rule (秒批): JSON-Logic over the form and fetched data."""

    item = models.ForeignKey(ServiceItem, verbose_name=_("service item"), on_delete=models.CASCADE,
                             related_name="rules")
    version = models.PositiveIntegerField(_("version"))
    logic = models.JSONField(_("rule (JSON-Logic)"))
    description = models.TextField(_("description"), blank=True)
    is_current = models.BooleanField(_("current"), default=True)
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("instant-approval rule")
        verbose_name_plural = _("instant-approval rules")
        ordering = ["item", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["item", "version"], name="onestop_unique_rule_version"),
            models.UniqueConstraint(fields=["item"], condition=Q(is_current=True), name="onestop_one_current_rule"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} rule v{self.version}"


class Application(models.Model):
    """An application (办件) and its state."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", pgettext_lazy("application", "Submitted")
        ACCEPTED = "accepted", _("Accepted")
        SUPPLEMENT_REQUESTED = "supplement_requested", _("Supplement requested")
        REFUSED = "refused", _("Not accepted")
        UNDER_REVIEW = "under_review", _("Under review")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        COMPLETED = "completed", _("Completed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    number = models.CharField(_("application number"), max_length=40, unique=True)
    item = models.ForeignKey(ServiceItem, verbose_name=_("service item"), on_delete=models.PROTECT,
                             related_name="applications")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("applicant"), on_delete=models.PROTECT,
                                  related_name="applications")
    subject = models.CharField(_("applicant identifier (ID number or USCC)"), max_length=18)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices, default=Status.DRAFT)
    form = models.JSONField(_("form"), default=dict, blank=True)
    # field key -> {"value", "resource", "item"}: values taken from government records (not re-typed)
    prefilled = models.JSONField(_("prefilled from government records"), default=dict, blank=True)
    # material id -> {"source": "certificate"|"shared_data", "credential"?: id, "resource"?: code}
    reused = models.JSONField(_("materials reused (not asked for)"), default=dict, blank=True)
    reused_count = models.PositiveSmallIntegerField(_("materials reused"), default=0)
    rule_result = models.JSONField(_("instant-approval result"), null=True, blank=True)
    supplement = models.JSONField(_("supplement requested"), default=list, blank=True)  # [{"field"/"material", "reason"}]
    reason = models.TextField(_("reason"), blank=True)  # refusal / denial reason
    due_on = models.DateField(_("due on"), null=True, blank=True)
    credential_id = models.UUIDField(_("certificate issued"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Save and resume: at most one draft per applicant and item, even under a double click.
            models.UniqueConstraint(fields=["applicant", "item"], condition=Q(status="draft"),
                                    name="onestop_one_draft_per_item"),
        ]
        indexes = [
            models.Index(fields=["applicant", "-created_at"], name="onestop_app_applicant"),
            models.Index(fields=["status", "due_on"], name="onestop_app_status_due"),
            models.Index(fields=["item", "status"], name="onestop_app_item_status"),
        ]

    def __str__(self) -> str:
        return self.number


class ApplicationEvent(models.Model):
    """One step of an application's timeline (each is also a ledger entry)."""

    application = models.ForeignKey(Application, verbose_name=_("application"), on_delete=models.CASCADE,
                                    related_name="events")
    from_status = models.CharField(_("from"), max_length=24, blank=True)
    to_status = models.CharField(_("to"), max_length=24)
    actor = models.CharField(pgettext_lazy("application event", "by"), max_length=150)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("application event")
        verbose_name_plural = _("application events")
        ordering = ["application", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.from_status} → {self.to_status}"


class ReviewTask(models.Model):
    """One department's part of a (parallel) review (并联审批)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        CANCELLED = "cancelled", _("Cancelled")

    application = models.ForeignKey(Application, verbose_name=_("application"), on_delete=models.CASCADE,
                                    related_name="tasks")
    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="review_tasks")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    opinion = models.TextField(_("opinion"), blank=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("review task")
        verbose_name_plural = _("review tasks")
        ordering = ["application", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["application", "department"], name="onestop_one_task_per_department"),
        ]
        indexes = [models.Index(fields=["department", "status"], name="onestop_task_queue")]

    def __str__(self) -> str:
        return f"{self.application_id} · {self.department_id} · {self.status}"


class Upload(models.Model):
    """A file the applicant uploaded for a material (stored under the data directory)."""

    application = models.ForeignKey(Application, verbose_name=_("application"), on_delete=models.CASCADE,
                                    related_name="uploads")
    material = models.ForeignKey(Material, verbose_name=_("material"), on_delete=models.PROTECT, related_name="+")
    file = models.FileField(_("file"), upload_to="onestop/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        ordering = ["application", "material", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Rating(models.Model):
    """A rating (好差评) of a completed application; defaulted to 基本满意 after 7 days."""

    class Level(models.IntegerChoices):
        VERY_DISSATISFIED = 1, _("Very dissatisfied")
        DISSATISFIED = 2, _("Dissatisfied")
        BASICALLY_SATISFIED = 3, _("Basically satisfied")
        SATISFIED = 4, _("Satisfied")
        VERY_SATISFIED = 5, _("Very satisfied")

    application = models.ForeignKey(Application, verbose_name=_("application"), on_delete=models.CASCADE,
                                    related_name="ratings")
    level = models.PositiveSmallIntegerField(_("rating"), choices=Level.choices)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    defaulted = models.BooleanField(_("given by default (no rating within 7 days)"), default=False)
    is_current = models.BooleanField(_("current"), default=True)  # a re-rating after rectification replaces it
    created_at = models.DateTimeField(_("rated at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["application", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["application"], condition=Q(is_current=True),
                                    name="onestop_one_current_rating"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.level}"


class RectificationTicket(models.Model):
    """A bad rating (不满意 or worse) sent to the department to rectify (差评整改) by a deadline."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        REPLIED = "replied", _("Replied")
        CLOSED = "closed", _("Closed")

    rating = models.OneToOneField(Rating, verbose_name=_("rating"), on_delete=models.CASCADE,
                                  related_name="ticket")
    department = models.ForeignKey(Department, verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="rectification_tickets")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField(_("reply due on"))
    reply = models.TextField(_("reply"), blank=True)
    replied_by = models.CharField(_("replied by"), max_length=150, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rectification ticket")
        verbose_name_plural = _("rectification tickets")
        ordering = ["status", "due_on"]
        indexes = [models.Index(fields=["department", "status"], name="onestop_ticket_queue")]

    def __str__(self) -> str:
        return f"ticket {self.pk} ({self.status})"
