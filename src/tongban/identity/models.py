"""People, enterprises, officials and departments: one account each for the whole platform."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """An administrative division (GB/T 2260)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County / district")

    code = models.CharField(_("region code"), max_length=6, primary_key=True)
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent region"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Department(models.Model):
    """A government department; the big-data bureau has platform-wide oversight."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County / district")

    code = models.SlugField(_("department code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="departments")
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name=_("parent department"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    is_bureau = models.BooleanField(_("big-data bureau"), default=False,
                                    help_text=_("Has platform-wide oversight."))

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["region_id", "code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """One login for a citizen, an enterprise, an official or a department system."""

    class Kind(models.TextChoices):
        CITIZEN = "citizen", _("Citizen")
        ENTERPRISE = "enterprise", _("Enterprise")
        OFFICIAL = "official", _("Official")
        SYSTEM = "system", _("Department system")

    kind = models.CharField(_("account kind"), max_length=12, choices=Kind.choices, default=Kind.CITIZEN)
    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="officials")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username


class RoleAssignment(models.Model):
    """A role held by an official (roles are fixed by the platform, not data)."""

    class Role(models.TextChoices):
        BUREAU_ADMIN = "bureau_admin", _("Big-data bureau administrator")
        CDO = "cdo", _("Chief data officer")
        DEPT_ADMIN = "dept_admin", _("Department administrator")
        STEWARD = "steward", _("Data steward")
        APPROVER = "approver", _("Approver")
        CLERK = "clerk", _("Service-window clerk")
        AUDITOR = "auditor", _("Auditor")

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="identity_unique_user_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class Citizen(models.Model):
    """A natural person known to the platform (with or without an account)."""

    class Sex(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    id_number = models.CharField(_("ID number"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=50)
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    region = models.ForeignKey(Region, verbose_name=_("household region"), on_delete=models.PROTECT,
                               related_name="citizens")
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    user = models.OneToOneField(User, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="citizen")

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")

    def __str__(self) -> str:
        return self.name


class Enterprise(models.Model):
    """A legal person identified by its unified social credit code (USCC)."""

    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=150)
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    region = models.ForeignKey(Region, verbose_name=_("registered region"), on_delete=models.PROTECT,
                               related_name="enterprises")
    industry_code = models.CharField(_("industry (GB/T 4754)"), max_length=5, blank=True)
    registered_on = models.DateField(_("registration date"), null=True, blank=True)
    registered_capital = models.DecimalField(_("registered capital (10k CNY)"), max_digits=14,
                                             decimal_places=2, null=True, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    user = models.OneToOneField(User, verbose_name=_("account"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="enterprise")

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")

    def __str__(self) -> str:
        return self.name


class AccessToken(models.Model):
    """A bearer token: a person's short-lived API session, or a department system's credential.

    Only the SHA-256 of the token is stored; the token itself is shown once, at creation.
    """

    class Kind(models.TextChoices):
        USER = "user", _("User session")
        SYSTEM = "system", _("Department system")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    prefix = models.CharField(_("key prefix"), max_length=12, help_text=_("Shown to tell tokens apart."))
    name = models.CharField(_("name"), max_length=100, blank=True)
    user = models.ForeignKey(User, verbose_name=_("user"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="access_tokens")
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="system_tokens")
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    created_by = models.ForeignKey(User, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")
        indexes = [models.Index(fields=["department", "kind"])]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"
