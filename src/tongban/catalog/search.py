"""Chinese full-text search over published resources (measured first: LIMITS.md, bench/bench_catalog.py).

The index is a narrow table holding, per published resource, the jieba-segmented words of five
fields in separate weighted columns: name > keywords > abstract > provider, items.

* SQLite: an FTS5 table ``catalog_search(name, keywords, abstract, provider, items)`` whose rowid
  is the resource id, ranked with ``bm25`` and column weights 10 / 5 / 2 / 1 / 1; exact counts of a
  single word come from ``fts5vocab``.
* PostgreSQL: ``catalog_search(resource_id, tsv)`` with a GIN index, the tsvector built from the
  segmented words with weights A (name), B (keywords), C (abstract), D (provider and items),
  ranked with ``ts_rank``. We write the tsvector literally ('word':1A …) rather than through
  ``to_tsvector('simple', …)``: the same as the 'simple' configuration on pre-segmented text, but
  independent of the database's locale. Exact counts of a single word come from
  ``catalog_search_term`` (documents per word), kept up to date here in the same transaction.

Ranking (decision): results come in tiers — every query word in the name, else in name or
keywords, else in name, keywords or abstract, else anywhere (provider, items) — so names rank
above abstracts above item names; within a tier by bm25 / ts_rank. To keep broad words (数据,
信息, 企业: most of the catalog) fast, only a bounded candidate set is ranked: tiers are taken in
order, each contributing at most ``CANDIDATES`` index matches in storage order, until
``CANDIDATES`` are found. ``count`` is still the number of all matches — exact from term
statistics for a single word, else counted up to ``COUNT_CAP`` (beyond it ``count_exact`` is
False). Pages beyond the ranked candidates are empty.

The index holds published resources only; it is updated in the caller's transaction when a
resource is published, superseded or deprecated.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count

from tongban.catalog import segment
from tongban.catalog.models import Resource

CANDIDATES = 2000
COUNT_CAP = 5_000
FACET_EXACT_LIMIT = 5000
FACET_FIELDS = ("department", "sharing", "opening", "theme", "format", "update_cycle")
SQLITE_WEIGHTS = (10.0, 5.0, 2.0, 1.0, 1.0)  # name, keywords, abstract, provider, items
PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A
TIERS_SQLITE = ("{name}", "{name keywords}", "{name keywords abstract}", "")
TIERS_PG = ("A", "AB", "ABC", "")
FILTER_COLUMNS = {
    "department": "department_id", "sharing": "sharing", "opening": "opening", "theme": "theme",
    "format": "format", "update_cycle": "update_cycle",
}
PUBLIC_OPENINGS = (Resource.Opening.OPEN, Resource.Opening.CONDITIONAL)


# --- documents -------------------------------------------------------------------------------------------


def document_fields(resource: Resource) -> dict[str, str]:
    """The raw text of each indexed field of a resource."""
    items = list(resource.items.all())
    department = resource.department
    return {
        "name": f"{resource.name} {resource.name_en}",
        "keywords": " ".join([*resource.keywords, resource.get_theme_display() if resource.theme else "",
                              resource.classification]),
        "abstract": resource.abstract,
        "provider": f"{department.name} {department.name_en}",
        "items": " ".join(f"{item.name} {item.name_en}" for item in items),
    }


def segmented(fields: dict[str, str]) -> dict[str, list[str]]:
    return {name: segment.index_words(text) for name, text in fields.items()}


def _tsvector_literal(words: dict[str, list[str]]) -> str:
    positions: dict[str, list[str]] = {}
    position = 0
    for column, weight in (("name", "A"), ("keywords", "B"), ("abstract", "C"), ("provider", "D"), ("items", "D")):
        for word in words[column]:
            position = min(position + 1, 16383)
            positions.setdefault(word, []).append(f"{position}{weight}")
    return " ".join(f"'{word}':{','.join(p[:256])}" for word, p in positions.items())


def _pg_term_delta(cursor, deltas: dict[str, int]) -> None:
    rows = sorted((term, delta) for term, delta in deltas.items() if delta)  # sorted: no deadlocks
    if rows:
        cursor.executemany(
            "INSERT INTO catalog_search_term (term, docs) VALUES (%s, %s) "
            "ON CONFLICT (term) DO UPDATE SET docs = catalog_search_term.docs + EXCLUDED.docs",
            rows,
        )


def index_resource(resource: Resource) -> None:
    """Put a published resource into the index (replacing its entry)."""
    if resource.status != Resource.Status.PUBLISHED:
        unindex_resource(resource.pk)
        return
    words = segmented(document_fields(resource))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tsvector_to_array(tsv) FROM catalog_search WHERE resource_id = %s", [resource.pk])
            row = cursor.fetchone()
            old = set(row[0]) if row else set()
            new = {w for ws in words.values() for w in ws}
            cursor.execute(
                "INSERT INTO catalog_search (resource_id, tsv) VALUES (%s, %s::tsvector) "
                "ON CONFLICT (resource_id) DO UPDATE SET tsv = EXCLUDED.tsv",
                [resource.pk, _tsvector_literal(words)],
            )
            _pg_term_delta(cursor, {**dict.fromkeys(old - new, -1), **dict.fromkeys(new - old, 1)})
        else:
            cursor.execute("DELETE FROM catalog_search WHERE rowid = %s", [resource.pk])
            cursor.execute(
                "INSERT INTO catalog_search (rowid, name, keywords, abstract, provider, items) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [resource.pk, *(" ".join(words[c]) for c in ("name", "keywords", "abstract", "provider", "items"))],
            )


def unindex_resource(resource_id: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DELETE FROM catalog_search WHERE resource_id = %s RETURNING tsvector_to_array(tsv)",
                           [resource_id])
            row = cursor.fetchone()
            if row:
                _pg_term_delta(cursor, dict.fromkeys(row[0], -1))
        else:
            cursor.execute("DELETE FROM catalog_search WHERE rowid = %s", [resource_id])


def bulk_index(rows: list[tuple[int, dict[str, list[str]]]]) -> None:
    """Index many published resources at once (benchmark and demo): ``(resource_id, words)`` pairs."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                "INSERT INTO catalog_search (resource_id, tsv) VALUES (%s, %s::tsvector) "
                "ON CONFLICT (resource_id) DO UPDATE SET tsv = EXCLUDED.tsv",
                [(pk, _tsvector_literal(words)) for pk, words in rows],
            )
            terms: Counter[str] = Counter()
            for _pk, words in rows:
                terms.update({w for ws in words.values() for w in ws})
            _pg_term_delta(cursor, dict(terms))
        else:
            cursor.executemany(
                "INSERT OR REPLACE INTO catalog_search (rowid, name, keywords, abstract, provider, items) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(pk, *(" ".join(words[c]) for c in ("name", "keywords", "abstract", "provider", "items")))
                 for pk, words in rows],
            )


# --- queries -----------------------------------------------------------------------------------------------


@dataclass
class Hits:
    ids: list[int]  # this page, best first
    count: int  # all matches
    count_exact: bool
    candidate_ids: list[int] = field(default_factory=list)  # every ranked candidate, best first
    words: list[str] = field(default_factory=list)


def _filter_sql(filters: dict, public: bool) -> tuple[str, list]:
    clauses, params = [], []
    for name, value in filters.items():
        if value in (None, ""):
            continue
        clauses.append(f"r.{FILTER_COLUMNS[name]} = %s")
        params.append(value)
    if public:
        clauses.append("r.opening IN (%s, %s)")
        params.extend(PUBLIC_OPENINGS)
    return " AND ".join(clauses), params


def _sqlite_match(words: list[str], tier: str) -> str:
    body = " AND ".join(f'"{w}"' for w in words)
    return f"{tier} : ({body})" if tier else body


def _pg_query(words: list[str], weights: str) -> str:
    suffix = f":{weights}" if weights else ""
    return " & ".join(f"'{w}'{suffix}" for w in words)


def _candidates(cursor, words: list[str], where: str, params: list) -> list[int]:
    """At most ``CANDIDATES`` ids, best first: (tier, score). Two queries at most: the name tier,
    then (when it did not fill the set) every match with its tier worked out per row."""
    postgres = connection.vendor == "postgresql"
    key = "resource_id" if postgres else "rowid"
    join = f"JOIN catalog_resource r ON r.id = s.{key} AND {where}" if where else ""
    ranked: dict[int, tuple[int, float]] = {}
    if postgres:
        cursor.execute(
            f"SELECT s.resource_id, ts_rank(%s::float4[], s.tsv, %s::tsquery, 1) FROM catalog_search s {join} "  # noqa: S608 - whitelisted columns, values are parameters
            f"WHERE s.tsv @@ %s::tsquery LIMIT %s",
            [PG_WEIGHTS, _pg_query(words, ""), *params, _pg_query(words, TIERS_PG[0]), CANDIDATES],
        )
        ranked = {pk: (0, -score) for pk, score in cursor.fetchall()}
    else:
        weights = ", ".join(str(w) for w in SQLITE_WEIGHTS)
        cursor.execute(
            f"SELECT s.rowid, bm25(catalog_search, {weights}) FROM catalog_search s {join} "  # noqa: S608 - whitelisted columns, values are parameters
            f"WHERE catalog_search MATCH %s LIMIT %s",
            [*params, _sqlite_match(words, TIERS_SQLITE[0]), CANDIDATES],
        )
        ranked = {pk: (0, score) for pk, score in cursor.fetchall()}
    if len(ranked) < CANDIDATES:
        wanted = CANDIDATES + len(ranked)  # the name matches come again
        if postgres:
            cursor.execute(
                f"SELECT s.resource_id, ts_rank(%s::float4[], s.tsv, %s::tsquery, 1), "  # noqa: S608 - whitelisted columns, values are parameters
                f"CASE WHEN s.tsv @@ %s::tsquery THEN 1 WHEN s.tsv @@ %s::tsquery THEN 2 ELSE 3 END "
                f"FROM catalog_search s {join} WHERE s.tsv @@ %s::tsquery LIMIT %s",
                [PG_WEIGHTS, _pg_query(words, ""), _pg_query(words, TIERS_PG[1]), _pg_query(words, TIERS_PG[2]),
                 *params, _pg_query(words, ""), wanted],
            )
            rows = [(pk, tier, -score) for pk, score, tier in cursor.fetchall()]
        else:
            cursor.execute(
                f"SELECT s.rowid, bm25(catalog_search, {weights}), s.name, s.keywords, s.abstract "  # noqa: S608 - whitelisted columns, values are parameters
                f"FROM catalog_search s {join} WHERE catalog_search MATCH %s LIMIT %s",
                [*params, _sqlite_match(words, ""), wanted],
            )
            rows = [(pk, _tier(words, name, keywords, abstract), score) for pk, score, name, keywords, abstract
                    in cursor.fetchall()]
        for pk, tier, score in rows:
            if pk not in ranked:
                ranked[pk] = (tier, score)
    order = sorted(ranked.items(), key=lambda kv: (kv[1], -kv[0]))
    return [pk for pk, _ in order[:CANDIDATES]]


def _tier(words: list[str], name: str, keywords: str, abstract: str) -> int:
    """0: every word in the name; 1: … in name or keywords; 2: … or abstract; 3: anywhere."""
    seen = set(name.split())
    if all(w in seen for w in words):
        return 0
    seen.update(keywords.split())
    if all(w in seen for w in words):
        return 1
    seen.update(abstract.split())
    return 2 if all(w in seen for w in words) else 3


def _count(cursor, words: list[str], where: str, params: list) -> tuple[int, bool]:
    postgres = connection.vendor == "postgresql"
    if len(words) == 1 and not where:
        if postgres:
            cursor.execute("SELECT docs FROM catalog_search_term WHERE term = %s", [words[0]])
        else:
            cursor.execute("SELECT doc FROM catalog_search_vocab WHERE term = %s", [words[0]])
        row = cursor.fetchone()
        return (row[0] if row else 0), True
    join = f"JOIN catalog_resource r ON r.id = s.{'resource_id' if postgres else 'rowid'} AND {where}" \
        if where else ""
    if postgres:
        inner = f"SELECT 1 FROM catalog_search s {join} WHERE s.tsv @@ %s::tsquery LIMIT %s"  # noqa: S608 - whitelisted columns, values are parameters
        match = _pg_query(words, "")
    else:
        inner = f"SELECT 1 FROM catalog_search s {join} WHERE catalog_search MATCH %s LIMIT %s"  # noqa: S608 - whitelisted columns, values are parameters
        match = _sqlite_match(words, "")
    cursor.execute(f"SELECT count(*) FROM ({inner}) t", [*params, match, COUNT_CAP + 1])  # noqa: S608
    count = cursor.fetchone()[0]
    return (min(count, COUNT_CAP), count <= COUNT_CAP)


def _like_fallback(query: str, filters: dict, public: bool) -> list[int]:
    """No indexed word matched (an unknown word, a single character): scan names, bounded."""
    rows = Resource.objects.filter(status=Resource.Status.PUBLISHED, name__icontains=query.strip()[:50])
    for name, value in filters.items():
        if value not in (None, ""):
            rows = rows.filter(**{FILTER_COLUMNS[name]: value})
    if public:
        rows = rows.filter(opening__in=PUBLIC_OPENINGS)
    return list(rows.order_by("name", "pk").values_list("pk", flat=True)[:CANDIDATES])


def search_ids(query: str, filters: dict, *, public: bool, page: int, page_size: int) -> Hits:
    """Ranked ids of published resources matching ``query`` (non-empty) under ``filters``."""
    words = segment.query_words(query)
    where, params = _filter_sql(filters, public)
    start = (page - 1) * page_size
    if words:
        with connection.cursor() as cursor:
            candidates = _candidates(cursor, words, where, params)
            if candidates:
                count, exact = _count(cursor, words, where, params)
                count = max(count, len(candidates))
                return Hits(candidates[start:start + page_size], count, exact, candidates, words)
    fallback = _like_fallback(query, filters, public)
    return Hits(fallback[start:start + page_size], len(fallback), len(fallback) < CANDIDATES, fallback, words)


def facet_counts(resource_ids: list[int] | None, base_queryset) -> dict[str, Counter]:
    """Counts per value of each facet field, over ``resource_ids`` (or over ``base_queryset``)."""
    columns = [FILTER_COLUMNS[name] for name in FACET_FIELDS]
    if resource_ids is None:
        rows = base_queryset.order_by().values_list(*columns).annotate(n=Count("pk"))
    else:
        rows = _facet_rows(resource_ids, columns)
    counters: dict[str, Counter] = {name: Counter() for name in FACET_FIELDS}
    for *values, n in rows:
        for name, value in zip(FACET_FIELDS, values, strict=True):
            counters[name][value] += n
    return counters


def _facet_rows(resource_ids: list[int], columns: list[str]) -> list[tuple]:
    """(facet values…, count) per combination over up to ``CANDIDATES`` rows, grouped in SQL and
    with the ids passed as ONE parameter: an ORM ``pk__in`` of 2,000 ids cost more to compile
    than the query took to run."""
    select = ", ".join(columns)  # whitelisted column names
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {select}, count(*) FROM catalog_resource WHERE id = ANY(%s) "  # noqa: S608
                           f"GROUP BY {select}", [list(resource_ids)])
        else:
            cursor.execute(f"SELECT {select}, count(*) FROM catalog_resource "  # noqa: S608
                           f"WHERE id IN (SELECT value FROM json_each(%s)) GROUP BY {select}",
                           [json.dumps(list(resource_ids))])
        return cursor.fetchall()


def all_match_ids(query: str, filters: dict, *, public: bool, limit: int) -> list[int] | None:
    """Every matching id when there are at most ``limit`` (for exact facets), else None."""
    words = segment.query_words(query)
    if not words:
        return None
    where, params = _filter_sql(filters, public)
    postgres = connection.vendor == "postgresql"
    join = f"JOIN catalog_resource r ON r.id = s.{'resource_id' if postgres else 'rowid'} AND {where}" \
        if where else ""
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"SELECT s.resource_id FROM catalog_search s {join} WHERE s.tsv @@ %s::tsquery LIMIT %s",  # noqa: S608 - whitelisted columns, values are parameters
                           [*params, _pg_query(words, ""), limit + 1])
        else:
            cursor.execute(f"SELECT s.rowid FROM catalog_search s {join} WHERE catalog_search MATCH %s LIMIT %s",  # noqa: S608 - whitelisted columns, values are parameters
                           [*params, _sqlite_match(words, ""), limit + 1])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) <= limit else None


def like_scan(query: str, *, limit: int = 20) -> list[int]:
    """The baseline the benchmark compares with: ``LIKE '%…%'`` over name and abstract."""
    pattern = f"%{query}%"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM catalog_resource WHERE status = 'published' AND (name LIKE %s OR abstract LIKE %s) "
            "ORDER BY CASE WHEN name LIKE %s THEN 0 ELSE 1 END, id LIMIT %s",
            [pattern, pattern, pattern, limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM catalog_resource WHERE status = 'published' AND (name LIKE %s OR abstract LIKE %s)",
            [pattern, pattern],
        )
        cursor.fetchone()
    return ids


def prune_orphans(using: str = "default", **_kwargs) -> None:
    """Drop index entries whose resource is gone (after a flush, e.g. between transactional tests;
    services never delete resources). Connected to ``post_migrate``, which a flush also sends."""
    from django.db import connections

    conn = connections[using]
    if "catalog_search" not in conn.introspection.table_names(include_views=False) and conn.vendor == "postgresql":
        return
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("DELETE FROM catalog_search s WHERE NOT EXISTS "
                           "(SELECT 1 FROM catalog_resource r WHERE r.id = s.resource_id)")
            if cursor.rowcount:
                cursor.execute("DELETE FROM catalog_search_term")
                cursor.execute("INSERT INTO catalog_search_term (term, docs) SELECT word, count(*) "
                               "FROM catalog_search, unnest(tsvector_to_array(tsv)) AS word GROUP BY word")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'catalog_search'")
            if cursor.fetchone():
                cursor.execute("DELETE FROM catalog_search WHERE rowid NOT IN (SELECT id FROM catalog_resource)")
