"""Back office view of the ledger: read-only. The log changes only through ``record`` and the
integrator; an edit here would be tampering (and ``tongban ledger verify`` would say so)."""

from __future__ import annotations

import base64

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from tongban.ledger.models import Checkpoint, LedgerEvent, LedgerSubject, TreeNode, TreeState


def _b64(data: bytes | memoryview) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LedgerSubjectInline(admin.TabularInline):
    model = LedgerSubject
    fields = ("hash",)
    readonly_fields = ("hash",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEvent)
class LedgerEventAdmin(ReadOnlyAdmin):
    list_display = ("index", "recorded_at", "action", "department", "subject", "actor")
    list_filter = ("action", "department")
    search_fields = ("action", "subject", "actor")
    fields = ("index", "recorded_at", "action", "actor", "department", "subject", "canonical_entry")
    readonly_fields = fields
    inlines = [LedgerSubjectInline]

    @admin.display(description=_("canonical entry"))
    def canonical_entry(self, obj: LedgerEvent) -> str:
        return bytes(obj.entry).decode("utf-8")


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("size", "root_b64", "created_at")
    fields = ("size", "root_b64", "note", "created_at")
    readonly_fields = fields

    @admin.display(description=_("root hash"))
    def root_b64(self, obj: Checkpoint) -> str:
        return _b64(obj.root)


@admin.register(TreeState)
class TreeStateAdmin(ReadOnlyAdmin):
    list_display = ("size", "profile", "root_b64", "updated_at")
    fields = list_display
    readonly_fields = fields

    @admin.display(description=_("root hash"))
    def root_b64(self, obj: TreeState) -> str:
        return _b64(obj.root)


@admin.register(TreeNode)
class TreeNodeAdmin(ReadOnlyAdmin):
    list_display = ("level", "node_index", "hash_b64")
    fields = list_display
    readonly_fields = fields

    @admin.display(description=_("hash"))
    def hash_b64(self, obj: TreeNode) -> str:
        return _b64(obj.hash)
