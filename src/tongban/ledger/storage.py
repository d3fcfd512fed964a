"""SQL for the hot paths: claiming pending events, writing nodes, reading proof nodes.

The ORM is fine for everything else; these three run per batch or per proof, where one
statement instead of thousands is what reaches the throughput goals (LIMITS.md).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from itertools import repeat

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from tongban.ledger.merkle import NodeId
from tongban.ledger.proofs import node_key

EVENTS = "ledger_event"
NODES = "ledger_node"

# Index assignment and selection in ONE statement. Under PostgreSQL's READ COMMITTED a
# separate SELECT then UPDATE could see a different set of committed rows; here the rows
# numbered are exactly the rows returned. ``row_number`` over the id order gives the batch
# contiguous indexes from the current tree size (SQLite >= 3.35 and PostgreSQL both speak it).
_CLAIM_SQL = """
UPDATE ledger_event SET idx = claimed.n
FROM (SELECT id, row_number() OVER (ORDER BY id) + %s - 1 AS n
      FROM ledger_event WHERE idx IS NULL ORDER BY id LIMIT %s) AS claimed
WHERE ledger_event.id = claimed.id
RETURNING ledger_event.idx, ledger_event.entry
"""


def tree_head(size: int | None, using: str = DEFAULT_DB_ALIAS) -> tuple[int, bytes | None, str | None]:
    """Current tree size, and root and note of the checkpoint of ``size`` (default: current)
    if one was published — one query on the proof path instead of two ORM ones."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT s.size, c.root, c.note FROM ledger_state s "
            "LEFT JOIN ledger_checkpoint c ON c.size = COALESCE(%s, s.size) WHERE s.id = 1", [size])
        row = cursor.fetchone()
    if row is None:
        return 0, None, None
    return int(row[0]), bytes(row[1]) if row[1] is not None else None, row[2]


def has_pending(using: str = DEFAULT_DB_ALIAS) -> bool:
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {EVENTS} WHERE idx IS NULL LIMIT 1")  # noqa: S608 - constant
        return cursor.fetchone() is not None


def claim_pending(first_index: int, limit: int, using: str = DEFAULT_DB_ALIAS) -> list[bytes]:
    """Numbers up to ``limit`` pending events from ``first_index``; returns their entries in order."""
    with connections[using].cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [first_index, limit])
        rows = cursor.fetchall()
    rows.sort()
    if rows and (rows[0][0] != first_index or rows[-1][0] != first_index + len(rows) - 1):
        raise RuntimeError("claimed indexes are not contiguous")  # cannot happen; never store a gap
    return [bytes(entry) for _, entry in rows]


def _node_rows(runs: Iterable[tuple[int, int, Sequence[bytes]]]) -> Iterable[tuple[int, bytes]]:
    for level, first, hashes in runs:
        # Consecutive nodes of one level are 2^(level+1) keys apart (see proofs.node_key).
        step = 2 << level
        start = node_key(level, first)
        yield from zip(range(start, start + step * len(hashes), step), hashes, strict=True)


def insert_nodes(runs: Iterable[tuple[int, int, Sequence[bytes]]], using: str = DEFAULT_DB_ALIAS) -> None:
    """Writes ``AppendResult.runs`` (consecutive nodes per level) in bulk."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is ~3x faster than executemany on PostgreSQL here (LIMITS.md: 88k vs 28k/s).
            with cursor.cursor.copy(f"COPY {NODES} (id, hash) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "bytea"])
                for row in _node_rows(runs):
                    copy.write_row(row)
        elif connection.vendor == "sqlite":
            # The driver's own executemany straight from the generator (Django's wrapper tees it).
            connection.connection.executemany(f"INSERT INTO {NODES} (id, hash) VALUES (?, ?)", _node_rows(runs))  # noqa: S608
        else:
            cursor.executemany(f"INSERT INTO {NODES} (id, hash) VALUES (%s, %s)", list(_node_rows(runs)))  # noqa: S608


@functools.lru_cache(maxsize=256)
def _select_nodes_sql(count: int, placeholder: str) -> str:
    return f"SELECT id, hash FROM {NODES} WHERE id IN ({', '.join(repeat(placeholder, count))})"  # noqa: S608


def fetch_keys(keys: list[int], using: str = DEFAULT_DB_ALIAS) -> dict[int, bytes]:
    """Stored nodes by ``node_key``, in one query."""
    if not keys:
        return {}
    keys = list(dict.fromkeys(keys))
    connection = connections[using]
    if connection.vendor == "sqlite":
        # The proof hot path: the driver directly, saving Django's per-query placeholder rewrite.
        connection.ensure_connection()
        raw = connection.connection
        if getattr(connection, "_ledger_mmap", None) is not raw:
            _memory_map(connection, raw)
        rows = raw.execute(_select_nodes_sql(len(keys), "?"), keys).fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(_select_nodes_sql(len(keys), "%s"), keys)
            rows = cursor.fetchall()
    return dict(rows)  # BLOB / bytea arrive as bytes from both drivers


def _memory_map(connection, raw) -> None:
    """Proof reads are random lookups across the node table: read through a memory map
    instead of a read() per page (measured +35–50 % proofs/s). Once per SQLite connection."""
    megabytes = int(getattr(settings, "TONGBAN_LEDGER_SQLITE_MMAP_MB", 256))
    raw.execute(f"PRAGMA mmap_size = {megabytes * 1024 * 1024}")
    connection._ledger_mmap = raw


def fetch_nodes(ids: list[NodeId], using: str = DEFAULT_DB_ALIAS) -> dict[NodeId, bytes]:
    """Every requested node in one query (the ``merkle.Fetch`` contract)."""
    keys = {node_key(level, index): (level, index) for level, index in ids}
    return {keys[key]: value for key, value in fetch_keys(list(keys), using).items()}


def fetch_level(level: int, first: int, last: int, using: str = DEFAULT_DB_ALIAS) -> dict[int, bytes]:
    """Stored nodes ``(level, first..last)`` inclusive, as ``{index: hash}``."""
    found: dict[int, bytes] = {}
    for lo in range(first, last + 1, _IN_CHUNK):
        hi = min(lo + _IN_CHUNK, last + 1)
        found.update((index, h) for (_, index), h in fetch_nodes([(level, i) for i in range(lo, hi)], using).items())
    return found


_IN_CHUNK = 2000  # keys per IN list, well under both databases' parameter limits


def count_nodes(using: str = DEFAULT_DB_ALIAS) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {NODES}")  # noqa: S608
        return int(cursor.fetchone()[0])
