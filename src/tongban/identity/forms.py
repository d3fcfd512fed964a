"""Forms of the identity pages. They only shape input: the services validate and decide.

A domain error from a service is put back on the form with ``add_domain_error``: next to the
field it is about (by the error's code), otherwise at the top of the form.
"""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from tongban.core.errors import DomainError
from tongban.identity.access import SCOPES
from tongban.identity.tokens import MAX_SYSTEM_TOKEN_DAYS

# Which field a service error is about, by its code.
ERROR_FIELDS = {
    "invalid_id_number": "id_number",
    "id_number_registered": "id_number",
    "invalid_uscc": "uscc",
    "uscc_registered": "uscc",
    "weak_password": "password",
    "username_taken": "username",
    "invalid_username": "username",
    "identity_mismatch": "name",
    "invalid_phone": "phone",
    "invalid_name": "name",
}

PASSWORD_HELP = _("At least 10 characters, using at least 3 of: lower-case letters, upper-case letters, "
                  "digits, symbols.")
USERNAME_HELP = _("3 to 40 letters, digits or . _ - (used to log in).")


class DomainForm(forms.Form):
    """A form that can show a service's domain error."""

    error_fields: dict[str, str] = {}  # overrides of ERROR_FIELDS for this form

    def add_domain_error(self, error: DomainError) -> None:
        field = {**ERROR_FIELDS, **self.error_fields}.get(error.code)
        self.add_error(field if field in self.fields else None, error.message)


def _text(label, *, max_length: int, required: bool = True, help_text="", **attrs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs))


def _password(label, *, autocomplete: str, help_text="") -> forms.CharField:
    return forms.CharField(label=label, strip=False, max_length=256, help_text=help_text,
                           widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}))


class PasswordPairMixin:
    """A new password typed twice; the second must match the first."""

    pair = ("password", "password_confirm")  # field names: the new password, typed again

    def clean(self):
        cleaned = super().clean()
        first, second = (cleaned.get(name) for name in self.pair)
        if first and second and first != second:
            self.add_error(self.pair[1], _("The two passwords do not match."))
        return cleaned


class LoginForm(forms.Form):
    username = _text(_("Username"), max_length=150, autocomplete="username", autofocus=True,
                     autocapitalize="none", spellcheck="false")
    password = _password(_("Password"), autocomplete="current-password")


class OtpForm(DomainForm):
    error_fields = {"invalid_otp": "code"}

    code = _text(_("6-digit code"), max_length=12, autocomplete="one-time-code", inputmode="numeric",
                 help_text=_("The code your authenticator app shows now. It changes every 30 seconds."))

    def clean_code(self) -> str:
        code = re.sub(r"\s+", "", self.cleaned_data["code"])
        if not (code.isascii() and code.isdigit() and 6 <= len(code) <= 8):
            raise forms.ValidationError(_("Enter the 6 digits your authenticator app shows."))
        return code


class CitizenRegistrationForm(PasswordPairMixin, DomainForm):
    username = _text(_("Username"), max_length=40, help_text=USERNAME_HELP, autocomplete="username",
                     autocapitalize="none", spellcheck="false")
    id_number = _text(_("ID number"), max_length=30, help_text=_("18 characters, as on your resident ID card."),
                      autocomplete="off", spellcheck="false", autocapitalize="characters")
    name = _text(_("Full name"), max_length=50, help_text=_("As on your resident ID card."), autocomplete="name")
    phone = _text(_("Mobile phone"), max_length=20, required=False, autocomplete="tel", inputmode="tel")
    password = _password(_("Password"), autocomplete="new-password", help_text=PASSWORD_HELP)
    password_confirm = _password(_("Confirm password"), autocomplete="new-password")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {key: data[key] for key in ("username", "id_number", "name", "phone", "password")}


class EnterpriseRegistrationForm(PasswordPairMixin, DomainForm):
    username = _text(_("Username"), max_length=40, help_text=USERNAME_HELP, autocomplete="username",
                     autocapitalize="none", spellcheck="false")
    uscc = _text(_("Unified social credit code"), max_length=30,
                 help_text=_("18 characters, as on the business licence."), autocomplete="off",
                 spellcheck="false", autocapitalize="characters")
    name = _text(_("Enterprise name"), max_length=150, help_text=_("As on the business licence."),
                 autocomplete="organization")
    legal_representative = _text(_("Legal representative"), max_length=50, required=False, autocomplete="name")
    password = _password(_("Password"), autocomplete="new-password", help_text=PASSWORD_HELP)
    password_confirm = _password(_("Confirm password"), autocomplete="new-password")

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {key: data[key] for key in ("username", "uscc", "name", "legal_representative", "password")}


class PasswordChangeForm(PasswordPairMixin, DomainForm):
    error_fields = {"wrong_password": "old_password", "weak_password": "new_password"}
    pair = ("new_password", "new_password_confirm")

    old_password = _password(_("Current password"), autocomplete="current-password")
    new_password = _password(_("New password"), autocomplete="new-password", help_text=PASSWORD_HELP)
    new_password_confirm = _password(_("Confirm new password"), autocomplete="new-password")


def scope_label(scope: str) -> str:
    zh, en = SCOPES[scope]
    return en if (get_language() or "").startswith("en") else zh


class SystemTokenForm(DomainForm):
    error_fields = {"invalid_scopes": "scopes", "invalid_expiry": "expires_in_days"}

    name = _text(_("System name"), max_length=100, autocomplete="off",
                 help_text=_("Which of your department's systems will use this token, e.g. the enterprise registration system."))
    scopes = forms.MultipleChoiceField(label=_("Scopes"), widget=forms.CheckboxSelectMultiple,
                                       help_text=_("Grant only what the system needs."))
    expires_in_days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=MAX_SYSTEM_TOKEN_DAYS,
                                         initial=90)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Labels in the language of this request.
        self.fields["scopes"].choices = [(scope, scope_label(scope)) for scope in SCOPES]
        self.fields["expires_in_days"].help_text = gettext("1 to %(max)d days.") % {"max": MAX_SYSTEM_TOKEN_DAYS}


class OfficialForm(PasswordPairMixin, DomainForm):
    error_fields = {"invalid_name": "full_name", "invalid_roles": "roles"}

    department = forms.CharField(widget=forms.HiddenInput, required=False)
    username = _text(_("Username"), max_length=40, help_text=USERNAME_HELP, autocomplete="off",
                     autocapitalize="none", spellcheck="false")
    full_name = _text(_("Full name"), max_length=100, autocomplete="off")
    phone = _text(_("Mobile phone"), max_length=20, required=False, autocomplete="off", inputmode="tel")
    roles = forms.MultipleChoiceField(label=_("Roles"), widget=forms.CheckboxSelectMultiple)
    password = _password(_("Initial password"), autocomplete="new-password", help_text=PASSWORD_HELP)
    password_confirm = _password(_("Confirm password"), autocomplete="new-password")

    def __init__(self, *args, roles: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = roles


class RolesForm(DomainForm):
    error_fields = {"invalid_roles": "roles"}

    roles = forms.MultipleChoiceField(label=_("Roles"), widget=forms.CheckboxSelectMultiple, required=False,
                                      help_text=_("An official without roles can log in but do nothing."))

    def __init__(self, *args, roles: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = roles
