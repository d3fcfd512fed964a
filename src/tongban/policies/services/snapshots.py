"""Profile snapshots: every subject's profile at one moment, as a Parquet file the analytic
engine scans (``engine``), registered in the platform database (``ProfileSnapshot``).

Building one is recorded in the ledger (which resources were read, how many profiles, the
file's SHA-256), so a later dispute about "why was I (not) matched" can name the data used.
Older files beyond ``KEEP`` are removed (their rows and the match counts stay).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tongban.ledger import services as ledger
from tongban.policies import engine, profiles
from tongban.policies import variables as vocabulary
from tongban.policies.models import ProfileSnapshot

BUILT = "policies.snapshot_built"
KEEP = 5


def directory() -> Path:
    path = Path(settings.DATA_DIR) / "policies" / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_path(snapshot: ProfileSnapshot) -> Path:
    return directory() / Path(snapshot.path).name


def _ready(target: str):
    """Ready snapshots, newest first (by id too: two built within one clock tick keep their order)."""
    return ProfileSnapshot.objects.filter(target=target, status=ProfileSnapshot.Status.READY).order_by(
        "-created_at", "-pk")


def latest_snapshot(target: str) -> ProfileSnapshot | None:
    """The newest ready snapshot of ``target`` whose file is still there."""
    for snapshot in _ready(target)[:KEEP]:
        if snapshot_path(snapshot).exists():
            return snapshot
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_snapshot(target: str, *, created_by: str,
                   progress: Callable[[int, int], None] | None = None) -> ProfileSnapshot:
    """Build the profiles of every ``target`` subject from the shared data into a new snapshot.

    Runs outside a long transaction (it may read millions of rows): the row is created first
    (``building``), the file written, then the row marked ready together with its ledger entry.
    """
    if target not in vocabulary.BY_TARGET:
        raise ValueError(target)
    as_of = timezone.localdate()
    snapshot = ProfileSnapshot.objects.create(target=target, as_of=as_of, created_by=created_by,
                                              sources={"resources": list(profiles.SOURCES[target])})
    path = directory() / f"{target}-{snapshot.pk:06d}.parquet"
    total = profiles.count(target)

    def rows():
        for done, row in enumerate(profiles.iter_profiles(target, as_of), start=1):
            if progress is not None and (done % 2000 == 0 or done == total):
                progress(done, total)
            yield row

    try:
        count = engine.write_snapshot(path, vocabulary.types_for(target), rows())
    except Exception:
        ProfileSnapshot.objects.filter(pk=snapshot.pk).update(status=ProfileSnapshot.Status.FAILED)
        raise
    snapshot.path, snapshot.rows, snapshot.sha256 = path.name, count, _sha256(path)
    snapshot.status = ProfileSnapshot.Status.READY
    with transaction.atomic():  # ready, and its ledger entry, together
        snapshot.save(update_fields=["path", "rows", "sha256", "status"])
        _record(snapshot, created_by, as_of)
    _prune(target)
    return snapshot


def _record(snapshot: ProfileSnapshot, created_by: str, as_of) -> None:
    target, count = snapshot.target, snapshot.rows
    ledger.record(actor=created_by, action=BUILT, subject=f"snapshot:{target}:{snapshot.pk}", department="bureau",
                  payload={"target": target, "rows": count, "sha256": snapshot.sha256, "as_of": as_of.isoformat(),
                           "resources": list(profiles.SOURCES[target])})


def _prune(target: str) -> None:
    """Remove the files beyond the newest ``KEEP`` — but none younger than a day, which a job
    still delivering from it may be reading."""
    cutoff = timezone.now() - datetime.timedelta(days=1)
    for old in _ready(target)[KEEP:]:
        if old.created_at < cutoff:
            snapshot_path(old).unlink(missing_ok=True)
