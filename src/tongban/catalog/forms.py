"""Forms of the steward's catalog editor: they render and carry values; the rules live in
``catalog.rules`` and the services, whose problems the views put back onto these fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from tongban.catalog.models import DataElement, DataType, Item, Resource


def _blank(choices) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


class ResourceForm(forms.Form):
    name = forms.CharField(label=_("Resource name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=250, required=False)
    abstract = forms.CharField(label=_("Abstract"), widget=forms.Textarea(attrs={"rows": 3}))
    category = forms.ChoiceField(label=_("Category"), choices=Resource.Category.choices,
                                 initial=Resource.Category.DEPARTMENT)
    classification = forms.CharField(label=_("Classification (item / group / subgroup)"), max_length=200,
                                     required=False)
    format = forms.ChoiceField(label=_("Resource format"), choices=Resource.Format.choices)
    sharing = forms.ChoiceField(label=_("Sharing class"), choices=Resource.Sharing.choices)
    sharing_conditions = forms.CharField(label=_("Sharing conditions"), required=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    sharing_method = forms.ChoiceField(label=_("Sharing method"), choices=Resource.SharingMethod.choices)
    sharing_basis = forms.CharField(
        label=_("Legal or policy basis"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required unless the resource is shared unconditionally."))
    opening = forms.ChoiceField(label=_("Open class"), choices=Resource.Opening.choices)
    opening_conditions = forms.CharField(label=_("Opening conditions"), required=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))
    update_cycle = forms.ChoiceField(label=_("Update cycle"), choices=Resource.UpdateCycle.choices)
    theme = forms.ChoiceField(label=_("Theme"), choices=_blank(Resource.Theme.choices), required=False)
    keywords = forms.CharField(label=_("Keywords"), required=False, help_text=_("Separated by commas or spaces."))
    related_codes = forms.CharField(label=_("Related resources"), required=False,
                                    help_text=_("Resource codes, separated by commas."))
    spatial = forms.CharField(label=_("Spatial coverage (GB/T 2260 code)"), max_length=6, required=False)
    temporal_start = forms.DateField(label=_("Temporal coverage from"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    temporal_end = forms.DateField(label=_("Temporal coverage to"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    contact_name = forms.CharField(label=_("Contact"), max_length=50, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=30, required=False)
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)


def element_choices() -> list[tuple[str, str]]:
    return _blank([(e.identifier, f"{e.name} ({e.identifier})")
                   for e in DataElement.objects.filter(is_current=True).order_by("identifier")])


class ItemForm(forms.Form):
    key = forms.CharField(label=_("Key"), max_length=50, required=False)
    name = forms.CharField(label=_("Item name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=150, required=False)
    data_element = forms.ChoiceField(label=_("Data element"), required=False)
    data_type = forms.ChoiceField(label=_("Own data type"), required=False,
                                  choices=[c for c in DataType.choices if c[0] != DataType.CODE])
    max_length = forms.IntegerField(label=_("Max. length"), required=False, min_value=1)
    required = forms.BooleanField(label=pgettext_lazy("catalog", "Required"), required=False)
    is_subject_key = forms.BooleanField(label=_("Subject key"), required=False)
    grade = forms.ChoiceField(label=_("Grade"), choices=Item.Grade.choices)
    personal_sensitive = forms.BooleanField(label=_("Personal sensitive"), required=False)
    masking = forms.ChoiceField(label=_("Masking"), choices=Item.Masking.choices)
    mask_head = forms.IntegerField(label=_("Keep at start"), required=False, min_value=0, max_value=20)
    mask_tail = forms.IntegerField(label=_("Keep at end"), required=False, min_value=0, max_value=20)

    def __init__(self, *args, elements=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["data_element"].choices = elements if elements is not None else element_choices()


class BaseItemFormSet(forms.BaseFormSet):
    def __init__(self, *args, **kwargs):
        self._elements = element_choices()
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "elements": self._elements}


ItemFormSet = forms.formset_factory(ItemForm, formset=BaseItemFormSet, extra=2, can_delete=True, max_num=200)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Catalog spreadsheet (CSV or XLSX)"))


class ReviewForm(forms.Form):
    comment = forms.CharField(label=_("Review comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DeprecateForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))
