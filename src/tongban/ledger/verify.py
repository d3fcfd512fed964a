"""``tongban ledger verify``: recompute the whole log from its entries and compare.

Walks the entries in index order once, hashing each stored canonical entry and rebuilding
the tree in memory (``CompactRange``), and checks:

* indexes run 0, 1, … size-1 with no gap and nothing beyond the tree size;
* each entry is canonical JSON whose copied columns and subject hashes agree with it;
* every stored node equals the recomputed one (level 0: the leaf hashes), and no extra
  nodes are stored;
* every stored checkpoint: the node key's signature, the origin, its size and root against
  the recomputed tree, and a consistency proof from the stored nodes to the next one;
* the tree state row (size and root).

It stops at the first problem in log order and names its index: e.g. an edited payload
shows as a leaf that no longer matches at that index, a deleted entry as a gap, two swapped
entries at the lower index, an inserted one where the indexes shift.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS

from tongban.ledger import keystore, notes, storage
from tongban.ledger.canonical import canonical_json
from tongban.ledger.merkle import CompactRange, HashProfile, consistency_proof, leaf_hash, verify_consistency
from tongban.ledger.models import Checkpoint, LedgerEvent, LedgerSubject, TreeState
from tongban.ledger.services import format_time

CHUNK = 8192  # leaves hashed and compared per round of node queries


@dataclass(frozen=True, order=True)
class Problem:
    # Position in log order: entry i is (i, 0); a checkpoint of size n comes after entry n-1.
    position: tuple[int, int]
    message: str = field(compare=False)
    index: int | None = field(default=None, compare=False)
    checkpoint_size: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.index is not None:
            return f"index {self.index}: {self.message}"
        if self.checkpoint_size is not None:
            return f"checkpoint of size {self.checkpoint_size}: {self.message}"
        return f"tree state: {self.message}"


def _entry_problem(index: int, message: str) -> Problem:
    return Problem((index, 0), message, index=index)


def _checkpoint_problem(size: int, message: str) -> Problem:
    return Problem((size - 1, 1), message, checkpoint_size=size)


@dataclass
class VerifyReport:
    size: int = 0
    entries: int = 0
    nodes: int = 0
    checkpoints: int = 0
    pending: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def verify_ledger(*, using: str = DEFAULT_DB_ALIAS, progress: Callable[[int], None] | None = None) -> VerifyReport:
    profile = keystore.current_profile()
    state = TreeState.objects.using(using).filter(pk=TreeState.SINGLETON).first()
    report = VerifyReport(size=state.size if state else 0,
                          pending=LedgerEvent.objects.using(using).filter(index__isnull=True).count())
    if state is not None and state.profile != profile.name:
        report.problem = Problem((-1, 0), f"the tree was built with the {state.profile!r} profile, "
                                          f"TONGBAN_CRYPTO_PROFILE is {profile.name!r}")
        return report
    walker = _Walker(profile.hash, keystore.verifier(), keystore.node_name(), report, using)
    try:
        walker.run(progress)
        if state is not None and walker.compact.root() != bytes(state.root):
            raise _Stop(Problem((report.size, 2), "the stored root does not match the entries"))
    except _Stop as stop:
        report.problem = stop.problem
    return report


class _Walker:
    def __init__(self, hash_profile: HashProfile, verifier: notes.Verifier, origin: str,
                 report: VerifyReport, using: str) -> None:
        self.hash, self.verifier, self.origin, self.report, self.using = hash_profile, verifier, origin, report, using
        self.compact = CompactRange(profile=hash_profile)
        self.problems: list[Problem] = []
        self.computed: dict[int, tuple[int, list[bytes]]] = {}  # level -> (first index, hashes) not yet compared
        self.previous: tuple[int, bytes] | None = None  # last checked checkpoint (size, root)

    def run(self, progress: Callable[[int], None] | None) -> None:
        size = self.report.size
        checkpoints = iter(Checkpoint.objects.using(self.using).order_by("size").values_list("size", "root", "note"))
        upcoming = next(checkpoints, None)
        if upcoming is not None and upcoming[0] == 0:  # the empty tree, signed before any entry
            self._check_checkpoint(*upcoming)
            upcoming = next(checkpoints, None)
        leaves: list[bytes] = []
        expected = 0
        for chunk in self._chunks():
            for index, leaf in chunk:
                if index != expected or index >= size:
                    self._append(leaves)  # so that an earlier bad leaf in this chunk is reported first
                    leaves = []
                if index != expected:
                    self._fail(_entry_problem(expected, "entry missing: the indexes have a gap (deleted entry?)"))
                if index >= size:
                    self._fail(_entry_problem(index, f"entry beyond the tree size {size} (inserted entry?)"))
                leaves.append(leaf)
                expected += 1
                while upcoming is not None and upcoming[0] == expected:
                    self._append(leaves)
                    leaves = []
                    self._check_checkpoint(*upcoming)
                    upcoming = next(checkpoints, None)
            self._append(leaves)
            leaves = []
            self._flush()
            if progress:
                progress(expected)
        self._append(leaves)
        if expected < size:
            self._fail(_entry_problem(expected, "entry missing: the log ends before the tree size (deleted entry?)"))
        if upcoming is not None:
            self._fail(_checkpoint_problem(upcoming[0], f"checkpoint beyond the {expected} entries in the log"))
        self._flush()
        expected_nodes = sum(size >> level for level in range(size.bit_length()))
        stored = storage.count_nodes(self.using)
        if stored != expected_nodes:
            self._fail(_entry_problem(size, f"{stored - expected_nodes} tree nodes stored beyond the tree (inserted?)"))

    def _chunks(self) -> Iterator[list[tuple[int, bytes]]]:
        """Entries in index order, checked field by field, as (index, leaf hash) chunks."""
        events = (LedgerEvent.objects.using(self.using).filter(index__isnull=False).order_by("index")
                  .values_list("id", "index", "entry", "recorded_at", "action", "actor", "department", "subject"))
        last = -1
        while True:
            rows = list(events.filter(index__gt=last)[:CHUNK])
            if not rows:
                return
            subjects: dict[int, list[str]] = {}
            for event_id, digest in (LedgerSubject.objects.using(self.using)
                                     .filter(event_id__in=[row[0] for row in rows]).values_list("event_id", "hash")):
                subjects.setdefault(event_id, []).append(digest)
            chunk = []
            for event_id, index, entry, *columns in rows:
                entry = bytes(entry)
                self._check_entry(index, entry, columns, sorted(subjects.get(event_id, [])))
                chunk.append((index, leaf_hash(self.hash, entry)))
            self.report.entries += len(rows)
            last = rows[-1][1]
            yield chunk

    def _check_entry(self, index: int, entry: bytes, columns: list, subjects: list[str]) -> None:
        try:
            content = json.loads(entry)
            canonical = canonical_json(content) == entry
        except ValueError:
            content, canonical = None, False
        if not canonical or not isinstance(content, dict):
            self.problems.append(_entry_problem(index, "the stored entry is not canonical JSON"))
            return
        recorded_at, action, actor, department, subject = columns
        copied = {"time": format_time(recorded_at), "action": action, "actor": actor, "department": department or None,
                  "subject": subject, "subjects": subjects}
        wrong = sorted(name for name, value in copied.items() if content.get(name) != value)
        if wrong:
            self.problems.append(_entry_problem(index, f"columns disagree with the entry: {', '.join(wrong)}"))

    def _append(self, leaves: list[bytes]) -> None:
        if not leaves:
            return
        result = self.compact.append(leaves)
        self.compact = result.compact_range
        for level, first, hashes in result.runs:
            if level in self.computed:
                self.computed[level][1].extend(hashes)
            else:
                self.computed[level] = (first, list(hashes))

    def _flush(self) -> None:
        """Compares every node computed since the last flush with the stored ones.

        Nodes are recomputed from the entries only, never from stored nodes: a tampered
        interior node shows at that node alone, while a tampered entry also changes every
        ancestor — those are consequences, so only the leaf is reported.
        """
        bad_leaves: list[int] = []
        for level in sorted(self.computed):
            first, hashes = self.computed[level]
            stored = storage.fetch_level(level, first, first + len(hashes) - 1, self.using)
            self.report.nodes += len(hashes)
            for offset, computed in enumerate(hashes):
                index = first + offset
                if stored.get(index) == computed:
                    continue
                start, end = index << level, ((index + 1) << level) - 1
                if level == 0:
                    bad_leaves.append(index)
                    why = ("leaf hash missing" if index not in stored else
                           "the entry does not hash to the stored leaf (edited, swapped or inserted entry?)")
                elif bisect.bisect_left(bad_leaves, start) < len(bad_leaves) and \
                        bad_leaves[bisect.bisect_left(bad_leaves, start)] <= end:
                    continue  # follows from a bad leaf below it
                else:
                    why = f"stored tree node ({level}, {index}) over entries {start}–{end} is wrong or missing"
                self.problems.append(_entry_problem(start, why))
        self.computed = {}
        if self.problems:
            raise _Stop(min(self.problems))

    def _check_checkpoint(self, size: int, root: bytes, note: str) -> None:
        root = bytes(root)
        self.report.checkpoints += 1
        try:
            signed = notes.open_checkpoint(note, [self.verifier], self.origin)
        except notes.NoteError as exc:
            self.problems.append(_checkpoint_problem(size, f"does not verify with the node key ({exc})"))
            return
        if signed.size != size or signed.root != root:
            self.problems.append(_checkpoint_problem(size, "the signed note does not match the stored size and root"))
        elif root != self.compact.root():
            self.problems.append(_checkpoint_problem(size, "the signed root does not match the entries"))
        elif self.previous is not None:
            first, first_root = self.previous
            proof = consistency_proof(first, size, lambda ids: storage.fetch_nodes(ids, self.using), profile=self.hash)
            if not verify_consistency(self.hash, first, size, proof, first_root, root):
                self.problems.append(_checkpoint_problem(size, f"not consistent with the checkpoint of size {first}"))
        self.previous = (size, root)

    def _fail(self, problem: Problem) -> None:
        """Stops here, after comparing the nodes computed so far: an earlier cause wins."""
        self.problems.append(problem)
        self._flush()
