"""Forms of the policy pages: they render and carry values; the rules live in the services
(``services.policies.clean``, ``services.rules.problems``), whose problems the views put back
onto these fields. So the fields are deliberately lax (text, nothing required here): a wrong
date or amount is reported by the service with its bilingual message, the same one the API gives."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.policies.models import Policy
from tongban.policies.services.policies import REQUIRED


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


def _date(label) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _amount(label) -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=20,
                           widget=forms.TextInput(attrs={"inputmode": "decimal"}))


class PolicyForm(forms.Form):
    title = forms.CharField(label=_("Title"), required=False, max_length=250)
    title_en = forms.CharField(label=_("English title"), required=False, max_length=300)
    document_number = forms.CharField(label=_("Document number"), required=False, max_length=150,
                                      help_text=_("e.g. 浙政办发〔2026〕12号"))
    target = forms.ChoiceField(label=_("For"), required=False, choices=_blank(Policy.Target.choices))
    theme = forms.ChoiceField(label=_("Theme"), required=False, choices=_blank(Policy.Theme.choices))
    mode = forms.ChoiceField(label=_("How the benefit is delivered"), required=False,
                             choices=_blank(Policy.Mode.choices))
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    full_text = forms.CharField(label=_("Full text"), required=False, widget=forms.Textarea(attrs={"rows": 8}))
    benefit = forms.CharField(label=_("Benefit (as published)"), required=False, max_length=350,
                              help_text=_("e.g. 每吸纳一人补贴1000元"))
    benefit_amount = _amount(_("Amount per beneficiary (CNY)"))
    benefit_formula = forms.CharField(
        label=_("Amount formula (JSON-Logic)"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('Optional, instead of a fixed amount, e.g. {"*": [{"var": "insured_count"}, 1000]}'))
    benefit_cap = _amount(_("Amount cap (CNY)"))
    service_item = forms.CharField(label=_("Service item (one-click application)"), required=False, max_length=60,
                                   help_text=_("The code of a published service item; needed for one-click application."))
    valid_from = _date(_("Valid from"))
    valid_until = _date(_("Valid until"))
    apply_from = _date(_("Applications from"))
    apply_until = _date(_("Applications until"))
    handling_days = forms.CharField(label=_("Handling time limit (working days)"), required=False, max_length=4,
                                    initial="15", widget=forms.TextInput(attrs={"inputmode": "numeric"}))

    def __init__(self, *args, departments: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if departments:  # the bureau's administrator drafts for any department
            self.fields["department"] = forms.ChoiceField(label=_("Issuing department"), required=False,
                                                          choices=_blank(departments))
            self.order_fields(["department"])
        for name in REQUIRED:
            self.fields[name].widget.attrs["aria-required"] = "true"

    def policy_data(self) -> tuple[dict[str, Any], str | None]:
        """The values for ``services.policies`` (after ``is_valid``); the formula parsed from JSON
        (an unreadable one is a field error here: ``None`` data answered)."""
        data = {k: v for k, v in self.cleaned_data.items() if k != "department"}
        text = (data.get("benefit_formula") or "").strip()
        if text:
            try:
                data["benefit_formula"] = json.loads(text)
            except (ValueError, RecursionError):
                self.add_error("benefit_formula", _("Not valid JSON."))
                data["benefit_formula"] = None
        else:
            data["benefit_formula"] = None
        return data, self.cleaned_data.get("department") or None


def policy_initial(policy: Policy) -> dict[str, Any]:
    """A policy's fields as the form shows them."""
    from tongban.policies.services.policies import FIELDS

    initial: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(policy, name)
        if name == "benefit_formula":
            value = json.dumps(value, ensure_ascii=False) if value else ""
        elif value is None:
            value = ""
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        initial[name] = value
    return initial


class RuleForm(forms.Form):
    """The rule editor: the rule, a sample profile to try it on, and a description for the new version."""

    logic = forms.CharField(label=_("Eligibility rule (JSON-Logic)"), required=False,
                            widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}))
    sample = forms.CharField(label=_("Sample profile (JSON)"), required=False,
                             widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}))
    description = forms.CharField(label=_("What changed (for the version history)"), required=False,
                                  max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason for withdrawal"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(label=_("Your rating"), coerce=int, widget=forms.RadioSelect,
                                   choices=[(5, _("Very satisfied")), (4, _("Satisfied")),
                                            (3, _("Basically satisfied")), (2, _("Dissatisfied")),
                                            (1, _("Very dissatisfied"))])
    comment = forms.CharField(label=_("Comment"), required=False, max_length=1000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class UrgeForm(forms.Form):
    note = forms.CharField(label=_("What is to be done"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))
