"""Catalog API schemas."""

from __future__ import annotations

import datetime

from ninja import Field, Schema


class ItemIn(Schema):
    key: str = ""
    name: str
    name_en: str = ""
    data_element: str = Field("", description="Data element identifier, e.g. DE00001")
    data_type: str = Field("", description="string, integer, decimal, date, datetime, boolean, id_number, uscc, "
                                           "phone (when no data element)")
    max_length: int | None = None
    required: bool = False
    is_subject_key: bool = False
    grade: str = "general"
    personal_sensitive: bool = False
    masking: str = "none"
    mask_head: int = 0
    mask_tail: int = 0
    description: str = ""


class ResourceIn(Schema):
    name: str
    name_en: str = ""
    abstract: str
    category: str = "department"
    classification: str = ""
    format: str = "database"
    sharing: str = Field(..., description="open_share, conditional or no_share")
    sharing_conditions: str = ""
    sharing_method: str = "api"
    sharing_basis: str = Field("", description="Required unless sharing is open_share")
    opening: str = Field(..., description="open, conditional or closed")
    opening_conditions: str = ""
    update_cycle: str
    theme: str = ""
    keywords: list[str] = []
    related_codes: list[str] = []
    spatial: str = ""
    temporal_start: datetime.date | None = None
    temporal_end: datetime.date | None = None
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    items: list[ItemIn]


class ItemOut(Schema):
    key: str
    name: str
    name_en: str
    data_element: str | None
    data_type: str
    max_length: int | None
    required: bool
    is_subject_key: bool
    grade: str
    personal_sensitive: bool
    masking: str
    mask_head: int
    mask_tail: int


class ResourceSummary(Schema):
    code: str
    version: int
    status: str
    name: str
    name_en: str
    abstract: str
    department: str
    department_name: str
    sharing: str
    opening: str
    update_cycle: str
    theme: str
    format: str
    keywords: list[str]
    published_at: datetime.datetime | None
    quality_score: int | None


class ReviewOut(Schema):
    version: int
    author: str
    decision: str
    comment: str
    created_at: datetime.datetime


class ResourceOut(ResourceSummary):
    category: str
    classification: str
    sharing_conditions: str
    sharing_method: str
    sharing_basis: str
    opening_conditions: str
    related_codes: list[str]
    spatial: str
    temporal_start: datetime.date | None
    temporal_end: datetime.date | None
    contact_name: str
    contact_phone: str
    contact_email: str
    subject_kind: str | None
    supersedes_version: int | None
    items: list[ItemOut]
    quality: dict
    versions: list[dict]
    reviews: list[ReviewOut]


class FacetValue(Schema):
    value: str
    label: str
    count: int


class SearchOut(Schema):
    items: list[ResourceSummary]
    count: int
    count_exact: bool
    page: int
    page_size: int
    facets: dict[str, list[FacetValue]] | None = None


class ListOut(Schema):
    items: list[ResourceSummary]
    count: int


class ReviewIn(Schema):
    approve: bool
    comment: str = ""


class CommentIn(Schema):
    comment: str = ""


class DeprecateIn(Schema):
    reason: str


class ImportError_(Schema):
    row: int
    column: str
    code: str
    message: str


class DataElementOut(Schema):
    identifier: str
    version: int
    name: str
    name_en: str
    default_key: str
    definition: str
    data_type: str
    max_length: int | None
    pattern: str
    format: str
    code_list: str | None


class CodeOut(Schema):
    code: str
    name: str
    name_en: str
    parent_code: str


class CodeListOut(Schema):
    identifier: str
    name: str
    name_en: str
    standard: str
    version: str
    entries: list[CodeOut]
