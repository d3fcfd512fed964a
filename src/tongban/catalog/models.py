"""Data standards (code lists, data elements) and the resource catalog (resources and their items).

Versioning (decided for issue 5): a published resource row is never changed in place. Revising
a published resource creates a NEW row (status draft, same ``code``, ``version = old + 1``,
``supersedes`` pointing at the old row) with its items copied; when that revision is published
the old row becomes ``superseded``. ``(code, version)`` is unique and at most one row per code is
published (a conditional unique constraint). Other apps resolve a code to its published row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tongban.identity.models import Department


class CodeList(models.Model):
    """A standard code list (代码集), e.g. GB/T 2261.1 sex, GB/T 2260 regions, GB/T 4754 industries."""

    identifier = models.CharField(_("identifier"), max_length=40, unique=True)
    name = models.CharField(pgettext_lazy("catalog", "name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    standard = models.CharField(_("standard"), max_length=60, blank=True)
    version = models.CharField(_("version"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("code list")
        verbose_name_plural = _("code lists")
        ordering = ["identifier"]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"


class CodeListEntry(models.Model):
    code_list = models.ForeignKey(CodeList, verbose_name=_("code list"), on_delete=models.CASCADE,
                                  related_name="entries")
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(pgettext_lazy("catalog", "name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    parent_code = models.CharField(_("parent code"), max_length=20, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("code")
        verbose_name_plural = _("codes")
        ordering = ["code_list", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["code_list", "code"], name="catalog_unique_code_in_list")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DataType(models.TextChoices):
    """Value types a data element (or an item with its own type) validates against."""

    STRING = "string", _("Text")
    INTEGER = "integer", _("Integer")
    DECIMAL = "decimal", _("Decimal")
    DATE = "date", _("Date")
    DATETIME = "datetime", _("Date and time")
    BOOLEAN = "boolean", _("Yes / no")
    CODE = "code", _("Code (from a code list)")
    ID_NUMBER = "id_number", _("Resident ID number")
    USCC = "uscc", _("Unified social credit code")
    PHONE = "phone", _("Mobile phone number")


SUBJECT_TYPES = {DataType.ID_NUMBER: "citizen", DataType.USCC: "enterprise"}


class DataElement(models.Model):
    """A data element (数据元): the standard meaning, type and validation of one kind of value."""

    identifier = models.CharField(_("identifier"), max_length=20)
    version = models.PositiveIntegerField(_("version"), default=1)
    name = models.CharField(pgettext_lazy("catalog", "name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    default_key = models.CharField(_("default item key"), max_length=50, blank=True,
                                   help_text=_("The item key used when an item names this element."))
    definition = models.TextField(_("definition"), blank=True)
    data_type = models.CharField(_("data type"), max_length=12, choices=DataType.choices)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    pattern = models.CharField(_("pattern (regular expression)"), max_length=200, blank=True)
    format = models.CharField(_("format"), max_length=60, blank=True)
    code_list = models.ForeignKey(CodeList, verbose_name=_("code list"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="data_elements")
    is_current = models.BooleanField(_("current version"), default=True)

    class Meta:
        verbose_name = _("data element")
        verbose_name_plural = _("data elements")
        ordering = ["identifier", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["identifier", "version"], name="catalog_unique_element_version"),
            models.UniqueConstraint(fields=["identifier"], condition=Q(is_current=True),
                                    name="catalog_one_current_element_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier} v{self.version})"


class ResourceSequence(models.Model):
    """Per-department counter of resource codes (``<department>-<sequence:05d>``)."""

    department = models.OneToOneField(Department, verbose_name=_("department"), primary_key=True,
                                      on_delete=models.CASCADE, related_name="+")
    last = models.PositiveIntegerField(_("last sequence"), default=0)

    class Meta:
        verbose_name = _("resource code sequence")
        verbose_name_plural = _("resource code sequences")

    def __str__(self) -> str:
        return f"{self.department_id}: {self.last}"


class Resource(models.Model):
    """A data resource (信息资源) with the core metadata of the national catalog guide (GB/T 21063)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted for review")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Superseded")
        DEPRECATED = "deprecated", _("Deprecated")

    class Category(models.TextChoices):
        BASIC = "basic", _("Basic resource")
        THEME = "theme", _("Thematic resource")
        DEPARTMENT = "department", _("Department resource")

    class Sharing(models.TextChoices):
        OPEN_SHARE = "open_share", _("Shared unconditionally")
        CONDITIONAL = "conditional", _("Shared on conditions")
        NO_SHARE = "no_share", _("Not shared")

    class SharingMethod(models.TextChoices):
        API = "api", _("API")
        FILE = "file", _("File")
        TABLE = "table", _("Database table")

    class Opening(models.TextChoices):
        OPEN = "open", _("Open unconditionally")
        CONDITIONAL = "conditional", _("Open on conditions")
        CLOSED = "closed", _("Not open")

    class UpdateCycle(models.TextChoices):
        REALTIME = "realtime", _("Real time")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")
        QUARTERLY = "quarterly", _("Quarterly")
        YEARLY = "yearly", _("Yearly")
        IRREGULAR = "irregular", _("Irregular")

    class Format(models.TextChoices):
        DATABASE = "database", _("Database")
        SPREADSHEET = "spreadsheet", _("Spreadsheet")
        DOCUMENT = "document", _("Document")
        IMAGE = "image", _("Image / map")
        MEDIA = "media", _("Audio / video")
        API = "api", _("Web service")
        OTHER = "other", _("Other")

    class Theme(models.TextChoices):
        POPULATION = "population", _("Population")
        LEGAL_ENTITY = "legal_entity", _("Legal entities")
        NATURAL_RESOURCES = "natural_resources", _("Natural resources and geography")
        ECONOMY = "economy", _("Economy and finance")
        CREDIT = "credit", _("Social credit")
        LICENCES = "licences", _("Licences and certificates")
        HEALTH = "health", _("Health")
        SOCIAL_SECURITY = "social_security", _("Employment and social security")
        CIVIL_AFFAIRS = "civil_affairs", _("Civil affairs")
        MARKET = "market", _("Market regulation")
        TRANSPORT = "transport", _("Transport")
        EDUCATION = "education", _("Education and culture")
        ENVIRONMENT = "environment", _("Environment")
        GOVERNMENT = "government", _("Government affairs")

    code = models.CharField(_("resource code"), max_length=60, db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    supersedes = models.ForeignKey("self", verbose_name=_("supersedes"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="revisions")
    department = models.ForeignKey(Department, verbose_name=_("provider department"), on_delete=models.PROTECT,
                                   related_name="catalog_resources")
    name = models.CharField(_("resource name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=250, blank=True)
    abstract = models.TextField(_("abstract"))
    category = models.CharField(_("category"), max_length=12, choices=Category.choices,
                                default=Category.DEPARTMENT)
    classification = models.CharField(_("classification (item / group / subgroup)"), max_length=200, blank=True)
    format = models.CharField(_("resource format"), max_length=12, choices=Format.choices, default=Format.DATABASE)
    sharing = models.CharField(_("sharing class"), max_length=12, choices=Sharing.choices)
    sharing_conditions = models.TextField(_("sharing conditions"), blank=True)
    sharing_method = models.CharField(_("sharing method"), max_length=8, choices=SharingMethod.choices,
                                      default=SharingMethod.API)
    sharing_basis = models.TextField(_("legal or policy basis"), blank=True)
    opening = models.CharField(_("open class"), max_length=12, choices=Opening.choices)
    opening_conditions = models.TextField(_("opening conditions"), blank=True)
    update_cycle = models.CharField(_("update cycle"), max_length=12, choices=UpdateCycle.choices)
    theme = models.CharField(_("theme"), max_length=20, choices=Theme.choices, blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    related_codes = models.JSONField(_("related resources"), default=list, blank=True)
    spatial = models.CharField(_("spatial coverage (GB/T 2260 code)"), max_length=6, blank=True)
    temporal_start = models.DateField(_("temporal coverage from"), null=True, blank=True)
    temporal_end = models.DateField(_("temporal coverage to"), null=True, blank=True)
    contact_name = models.CharField(_("contact"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    quality = models.JSONField(_("metadata quality"), null=True, blank=True,
                               help_text=_("Computed on publication (see catalog.quality)."))
    quality_score = models.PositiveSmallIntegerField(_("metadata quality score"), null=True, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("superseded or deprecated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("data resource")
        verbose_name_plural = _("data resources")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="catalog_unique_resource_version"),
            models.UniqueConstraint(fields=["code"], condition=Q(status="published"),
                                    name="catalog_one_published_version"),
        ]
        indexes = [
            models.Index(fields=["status", "department"], name="catalog_res_status_dept"),
            models.Index(fields=["status", "opening"], name="catalog_res_status_opening"),
            models.Index(fields=["status", "-published_at", "-id"], name="catalog_res_status_published"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code} v{self.version})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    @property
    def is_public(self) -> bool:
        """The public (not signed in) may see it: published and open or open on conditions."""
        return self.is_published and self.opening in (self.Opening.OPEN, self.Opening.CONDITIONAL)


class Item(models.Model):
    """An item (信息项) of a resource: one field of its records."""

    class Grade(models.TextChoices):
        GENERAL = "general", _("General")
        IMPORTANT = "important", _("Important")
        CORE = "core", _("Core")

    class Masking(models.TextChoices):
        NONE = "none", pgettext_lazy("masking", "None")
        KEEP_ENDS = "keep_ends", _("Keep head and tail")
        FULL = "full", _("Hide all")
        HASH = "hash", _("Hash")
        REGION = "region", _("Keep up to the district")  # addresses: 浙江省杭州市西湖区****

    resource = models.ForeignKey(Resource, verbose_name=_("resource"), on_delete=models.CASCADE,
                                 related_name="items")
    key = models.CharField(pgettext_lazy("catalog", "key"), max_length=50, help_text=_("ASCII identifier, unique in the resource."))
    name = models.CharField(pgettext_lazy("catalog", "name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    data_element = models.ForeignKey(DataElement, verbose_name=_("data element"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="items")
    data_type = models.CharField(_("data type"), max_length=12, choices=DataType.choices, default=DataType.STRING)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    required = models.BooleanField(_("required"), default=False)
    is_subject_key = models.BooleanField(_("subject key"), default=False,
                                         help_text=_("Identifies the data subject (ID number or USCC)."))
    grade = models.CharField(_("grade"), max_length=10, choices=Grade.choices, default=Grade.GENERAL)
    personal_sensitive = models.BooleanField(_("personal sensitive"), default=False)
    masking = models.CharField(_("masking rule"), max_length=10, choices=Masking.choices, default=Masking.NONE)
    mask_head = models.PositiveSmallIntegerField(_("characters kept at the start"), default=0)
    mask_tail = models.PositiveSmallIntegerField(_("characters kept at the end"), default=0)
    description = models.CharField(_("description"), max_length=300, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["resource", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "key"], name="catalog_unique_item_key"),
            models.UniqueConstraint(fields=["resource"], condition=Q(is_subject_key=True),
                                    name="catalog_one_subject_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"

    @property
    def effective_type(self) -> str:
        return self.data_element.data_type if self.data_element_id else self.data_type


class ReviewComment(models.Model):
    """A decision or remark in the catalog review (目录审核) of one resource version."""

    class Decision(models.TextChoices):
        SUBMIT = "submit", _("Submitted")
        PUBLISH = "publish", _("Published")
        REJECT = "reject", _("Rejected")
        DEPRECATE = "deprecate", _("Deprecated")

    resource = models.ForeignKey(Resource, verbose_name=_("resource"), on_delete=models.CASCADE,
                                 related_name="reviews")
    author = models.CharField(_("author"), max_length=150)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("review comment")
        verbose_name_plural = _("review comments")
        ordering = ["resource", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} · {self.author}"
