"""Rows of the tamper-evident ledger.

The log itself is ``LedgerEvent.entry`` (the exact canonical bytes each leaf hash covers) in
``index`` order. Everything else is derived and checkable: ``TreeNode`` stores every perfect
subtree root (so a proof is one read), ``TreeState`` is the integrator's high-water mark, and
``Checkpoint`` keeps each signed tree head the node has published. ``tongban ledger verify``
recomputes all of it from the entries.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.ledger.proofs import node_level_index


class NodeKeyField(models.BigIntegerField):
    """A 64-bit key that is SQLite's rowid: only a column typed exactly ``integer PRIMARY KEY``
    aliases the rowid; ``bigint`` would add a second B-tree to every insert."""

    def db_type(self, connection) -> str | None:
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


class LedgerEvent(models.Model):
    """One consequential act, as recorded by the app that did it.

    ``entry`` is the RFC 8785 canonical JSON of the event's index-independent fields; the
    leaf hash covers exactly these bytes. The other columns copy its public fields for
    listing and filtering; ``verify`` checks that they agree with ``entry``.
    """

    index = models.BigIntegerField(
        _("index"), null=True, blank=True, unique=True, db_column="idx",
        help_text=_("Position in the log, given by the integrator; empty until integrated."),
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    action = models.CharField(_("action"), max_length=100, db_index=True)
    actor = models.CharField(_("actor"), max_length=150)
    department = models.CharField(_("department"), max_length=64, blank=True)  # "" when the entry says null
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    entry = models.BinaryField(_("canonical entry"))

    class Meta:
        db_table = "ledger_event"
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        # Pending rows (idx IS NULL) are found through the unique index on idx, NULLs included.

    def __str__(self) -> str:
        position = f"#{self.index}" if self.index is not None else _("pending")
        return f"{position} {self.action}"


class LedgerSubject(models.Model):
    """A keyed hash of a personal identifier an entry concerns ("find my entries")."""

    # No index of its own: ``ledger_subject_once`` (event, hash) serves lookups by event, and a
    # second index would be one more write for every subject of every entry.
    event = models.ForeignKey(LedgerEvent, verbose_name=_("entry"), on_delete=models.CASCADE,
                              related_name="subject_hashes", db_index=False)
    hash = models.CharField(_("subject hash"), max_length=64, db_index=True)

    class Meta:
        db_table = "ledger_subject"
        verbose_name = _("entry subject")
        verbose_name_plural = _("entry subjects")
        constraints = [models.UniqueConstraint(fields=["event", "hash"], name="ledger_subject_once")]

    def __str__(self) -> str:
        return self.hash


class TreeNode(models.Model):
    """Root hash of the perfect subtree ``(level, index)``; level 0 holds the leaf hashes.

    Keyed by ``proofs.node_key(level, index)`` (an in-order position; see there why).
    Written once when its last leaf is integrated and never changed (the log only grows).
    """

    key = NodeKeyField(_("node key"), primary_key=True, db_column="id")
    hash = models.BinaryField(_("hash"))

    class Meta:
        db_table = "ledger_node"
        verbose_name = _("tree node")
        verbose_name_plural = _("tree nodes")

    def __str__(self) -> str:
        return f"({self.level}, {self.node_index})"

    @property
    def level(self) -> int:
        return node_level_index(self.key)[0]

    @property
    def node_index(self) -> int:
        return node_level_index(self.key)[1]


class TreeState(models.Model):
    """The integrator's one row: how many entries the tree holds, and with which hash.

    Updated in the same transaction as the nodes and the checkpoint, so after a crash it
    still names the last complete integration.
    """

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON)
    size = models.BigIntegerField(_("tree size"), default=0)
    root = models.BinaryField(_("root hash"))
    profile = models.CharField(_("crypto profile"), max_length=20)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "ledger_state"
        verbose_name = _("tree state")
        verbose_name_plural = _("tree state")

    def __str__(self) -> str:
        return f"{self.profile} size={self.size}"


class Checkpoint(models.Model):
    """A signed tree head (C2SP checkpoint in a signed note), one per integration."""

    size = models.BigIntegerField(_("tree size"), unique=True)
    root = models.BinaryField(_("root hash"))
    note = models.TextField(_("signed checkpoint"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "ledger_checkpoint"
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        ordering = ["-size"]

    def __str__(self) -> str:
        return f"size={self.size}"
