"""A web worker is settled before its first request: start-up objects frozen out of the GC."""

from __future__ import annotations

import gc
import time

from tongban.core.runtime import settle_worker


def test_settle_worker_freezes_the_start_up_heap_so_a_full_collection_is_short():
    gc.unfreeze()
    try:
        settle_worker()
        frozen = gc.get_freeze_count()
        started = time.perf_counter()
        gc.collect()
        after_freeze = time.perf_counter() - started
        gc.unfreeze()
        started = time.perf_counter()
        gc.collect()
        unfrozen = time.perf_counter() - started
    finally:
        gc.unfreeze()
    # Django, the URLconfs of every app and the API are far more than 50,000 objects.
    assert frozen > 50_000
    # The same collection walks the whole heap once unfrozen; frozen it skips it.
    assert after_freeze < unfrozen
