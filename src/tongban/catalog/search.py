"""Chinese full-text search over published resources (measured first: LIMITS.md, bench/bench_catalog.py).

The index is a narrow table holding, per published resource, the jieba-segmented words of five
fields (name > keywords > abstract > provider, items) and the resource's facet values as terms,
so that matching, filtering and counting need no join with the wide ``catalog_resource`` table
(the public filter through that join cost PostgreSQL 60–80 ms on a broad word).

* SQLite: an FTS5 table ``catalog_search(name, keywords, abstract, provider, items, facets)`` whose
  rowid is the resource id, ranked with ``bm25`` and column weights 10 / 5 / 2 / 1 / 1. ``facets``
  holds one token per facet value — a code letter and the value (``d12``, ``sopenshare``) — and
  ``p`` when the public may see the resource, so filters are part of the FTS5 match. Facet counts
  read the values from ``catalog_resource`` (as fast as FTS5 reading its own stored columns).
* PostgreSQL: ``catalog_search(resource_id, tsv, department_id, sharing, …)`` with a GIN index,
  the tsvector built from the segmented words with weights A (name), B (keywords), C (abstract),
  D (provider and items), ranked with ``ts_rank``. Besides the words it holds marker lexemes no
  query word can spell (query words are letters and digits only): ``~n<word>`` per name word,
  ``~<code><value>`` per facet value and ``~p``. So the name tier and every filter are plain GIN
  conjunctions: no recheck of weights, no join, and planner statistics per lexeme (filtering by
  weight or through a join walked most matches of a broad word). We write the tsvector literally
  ('word':1A …): the same as the 'simple' configuration on pre-segmented text, independent of the
  database's locale. ``catalog_search_term`` holds documents per lexeme, all and public.

Order (decision): results come in tiers — every query word in the name, else in name or
keywords, else in name, keywords or abstract, else anywhere (provider, items) — so names rank
above abstracts above item names. Ranking every match of a broad word is what is slow, so only a
head of ``CANDIDATES`` matches is ranked: the tiers are taken in order, each in storage order
(rowid in SQLite, physical order in PostgreSQL), until ``CANDIDATES`` matches are found; the head
is sorted by (tier, bm25 / ts_rank). The matches after the head follow by tier, then by id, so
every page is well defined however deep (each tier is queried as "tier t and not tier t-1", so
the parts never overlap; deep pages cost a sort of the tier's matches). Counts: exact on SQLite (FTS5 counts matches without
reading rows); on PostgreSQL exact from the term table for one word (alone or with the public
filter), exact when the head holds every match, else counted up to ``COUNT_CAP`` (beyond it
``count_exact`` is False). Facets are exact when there are at most ``FACET_EXACT_LIMIT`` matches
(and the count is exact), otherwise counted over the head (``facets_exact`` False).

The index holds published resources only; it is updated in the caller's transaction when a
resource is published, superseded or deprecated. Facet values of a published version never change.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count

from tongban.catalog import segment
from tongban.catalog.models import Resource

CANDIDATES = 2000  # the ranked head
COUNT_CAP = 5_000
FACET_EXACT_LIMIT = 5000
FACET_FIELDS = ("department", "sharing", "opening", "theme", "format", "update_cycle")
FACET_CODES = {"department": "d", "sharing": "s", "opening": "o", "theme": "t", "format": "f", "update_cycle": "u"}
PUBLIC_TERM = "p"  # the public may see it: opening in PUBLIC_OPENINGS
FILTER_COLUMNS = {
    "department": "department_id", "sharing": "sharing", "opening": "opening", "theme": "theme",
    "format": "format", "update_cycle": "update_cycle",
}
FACET_VALUES = {
    "sharing": set(Resource.Sharing.values), "opening": set(Resource.Opening.values),
    "theme": set(Resource.Theme.values), "format": set(Resource.Format.values),
    "update_cycle": set(Resource.UpdateCycle.values),
}
PUBLIC_OPENINGS = (Resource.Opening.OPEN, Resource.Opening.CONDITIONAL)
TIERS = 4
SQLITE_WEIGHTS = "10.0, 5.0, 2.0, 1.0, 1.0, 0.0"  # name, keywords, abstract, provider, items, facets
SQLITE_TIERS = ("{name}", "{name keywords}", "{name keywords abstract}", "{name keywords abstract provider items}")
PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A
_COLUMNS = ", ".join(FILTER_COLUMNS[name] for name in FACET_FIELDS)  # whitelisted column names
_R_COLUMNS = ", ".join(f"r.{FILTER_COLUMNS[name]}" for name in FACET_FIELDS)
_R_JOIN = "JOIN catalog_resource r ON r.id = s.rowid"  # SQLite: facet values from the resource row


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


def facet_terms(values: dict, public: bool) -> list[str]:
    """A code letter and the value per facet value (``d12``, ``sopen_share``), and ``p`` for public:
    what a document carries and what a filter asks for."""
    terms = [f"{FACET_CODES[name]}{value}" for name, value in values.items() if value not in (None, "")]
    return [*terms, PUBLIC_TERM] if public else terms


def _facet_values(resource: Resource) -> tuple:
    return tuple(getattr(resource, FILTER_COLUMNS[name]) for name in FACET_FIELDS)


def _document_terms(values: tuple) -> list[str]:
    by_name = dict(zip(FACET_FIELDS, values, strict=True))
    return facet_terms(by_name, by_name["opening"] in PUBLIC_OPENINGS)


def _fts_token(term: str) -> str:
    return term.replace("_", "")  # one unicode61 token: sopenshare


def _pg_document(words: dict[str, list[str]], values: tuple) -> tuple[str, set[str]]:
    """The tsvector literal of a document and its set of lexemes."""
    positions: dict[str, list[str]] = {}
    position = 0
    for column, weight in (("name", "A"), ("keywords", "B"), ("abstract", "C"), ("provider", "D"), ("items", "D")):
        for word in words[column]:
            position = min(position + 1, 16383)
            positions.setdefault(word, []).append(f"{position}{weight}")
    marks = [f"~n{w}" for w in sorted(set(words["name"]))] + [f"~{term}" for term in _document_terms(values)]
    literal = " ".join([*(f"'{word}':{','.join(p[:256])}" for word, p in positions.items()),
                        *(f"'{mark}'" for mark in marks)])
    return literal, set(positions) | set(marks)


def _tally(counts: tuple[Counter, Counter], lexemes, public: bool, sign: int) -> None:
    """Documents per lexeme (all, public) gained (+1) or lost (-1) with one document."""
    for lexeme in lexemes:
        counts[0][lexeme] += sign
        counts[1][lexeme] += sign * public


def _pg_write_terms(cursor, docs: Counter, public: Counter) -> None:
    rows = sorted((term, docs[term], public[term]) for term in set(docs) | set(public)
                  if docs[term] or public[term])  # sorted: no deadlocks
    if rows:
        cursor.executemany(
            "INSERT INTO catalog_search_term (term, docs, public_docs) VALUES (%s, %s, %s) ON CONFLICT (term) "
            "DO UPDATE SET docs = catalog_search_term.docs + EXCLUDED.docs, "
            "public_docs = catalog_search_term.public_docs + EXCLUDED.public_docs",
            rows,
        )


_PG_UPSERT = (
    "INSERT INTO catalog_search (resource_id, tsv, department_id, sharing, opening, theme, format, update_cycle) "
    "VALUES (%s, %s::tsvector, %s, %s, %s, %s, %s, %s) ON CONFLICT (resource_id) DO UPDATE SET tsv = EXCLUDED.tsv, "
    "department_id = EXCLUDED.department_id, sharing = EXCLUDED.sharing, opening = EXCLUDED.opening, "
    "theme = EXCLUDED.theme, format = EXCLUDED.format, update_cycle = EXCLUDED.update_cycle"
)
_SQLITE_INSERT = (
    "INSERT OR REPLACE INTO catalog_search (rowid, name, keywords, abstract, provider, items, facets) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def _sqlite_row(pk: int, words: dict[str, list[str]], values: tuple) -> tuple:
    text = (" ".join(words[c]) for c in ("name", "keywords", "abstract", "provider", "items"))
    return (pk, *text, " ".join(_fts_token(t) for t in _document_terms(values)))


def index_resource(resource: Resource) -> None:
    """Put a published resource into the index (replacing its entry)."""
    if resource.status != Resource.Status.PUBLISHED:
        unindex_resource(resource.pk)
        return
    words, values = segmented(document_fields(resource)), _facet_values(resource)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tsvector_to_array(tsv), opening FROM catalog_search WHERE resource_id = %s",
                           [resource.pk])
            row, counts = cursor.fetchone(), (Counter(), Counter())
            literal, lexemes = _pg_document(words, values)
            cursor.execute(_PG_UPSERT, [resource.pk, literal, *values])
            if row:
                _tally(counts, set(row[0]), row[1] in PUBLIC_OPENINGS, -1)
            _tally(counts, lexemes, resource.opening in PUBLIC_OPENINGS, 1)
            _pg_write_terms(cursor, *counts)
        else:
            cursor.execute(_SQLITE_INSERT, _sqlite_row(resource.pk, words, values))


def unindex_resource(resource_id: int) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DELETE FROM catalog_search WHERE resource_id = %s RETURNING tsvector_to_array(tsv), opening",
                           [resource_id])
            row, counts = cursor.fetchone(), (Counter(), Counter())
            if row:
                _tally(counts, set(row[0]), row[1] in PUBLIC_OPENINGS, -1)
                _pg_write_terms(cursor, *counts)
        else:
            cursor.execute("DELETE FROM catalog_search WHERE rowid = %s", [resource_id])


def bulk_index(rows: list[tuple[Resource, dict[str, list[str]]]]) -> None:
    """Index many new published resources at once (benchmark): ``(resource, words)`` pairs."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            batch, counts = [], (Counter(), Counter())
            for resource, words in rows:
                values = _facet_values(resource)
                literal, lexemes = _pg_document(words, values)
                batch.append((resource.pk, literal, *values))
                _tally(counts, lexemes, resource.opening in PUBLIC_OPENINGS, 1)
            cursor.executemany(_PG_UPSERT, batch)
            _pg_write_terms(cursor, *counts)
        else:
            cursor.executemany(_SQLITE_INSERT, [_sqlite_row(r.pk, words, _facet_values(r)) for r, words in rows])


# --- queries -----------------------------------------------------------------------------------------------


@dataclass
class Hits:
    ids: list[int]  # this page, in order
    count: int  # all matches
    count_exact: bool
    words: list[str] = field(default_factory=list)
    facets: dict[str, Counter] = field(default_factory=dict)
    facets_exact: bool = True


def _filter_terms(filters: dict, public: bool) -> list[str] | None:
    """The filter terms, or None when a value cannot match anything (not one of the field's values)."""
    values = {}
    for name, value in filters.items():
        if value in (None, ""):
            continue
        if name == "department":
            if not isinstance(value, int) or value < 1:
                return None
        elif value not in FACET_VALUES[name]:
            return None
        values[name] = value
    return facet_terms(values, public)


class _Sqlite:
    """Queries on the FTS5 table; ``tier`` None means every match."""

    def __init__(self, cursor, words: list[str], terms: list[str]):
        self.cursor, self.words, self.terms = cursor, words, terms

    def _match(self, tier: int | None) -> str:
        body = " AND ".join(f'"{w}"' for w in self.words)
        expr = f"({SQLITE_TIERS[TIERS - 1 if tier is None else tier]} : ({body}))"
        if tier:
            expr = f"({expr} NOT ({SQLITE_TIERS[tier - 1]} : ({body})))"
        if self.terms:
            expr += " AND ({facets} : (" + " AND ".join(f'"{_fts_token(t)}"' for t in self.terms) + "))"
        return expr

    def cheap_count(self) -> int:
        return self.count(None)

    def count(self, tier: int | None, exclude: list[int] | None = None, cap: int | None = None) -> int:
        """Matches of a tier (or all); FTS5 counts them without reading rows, so ``cap`` is not needed."""
        sql, params = "SELECT count(*) FROM catalog_search WHERE catalog_search MATCH %s", [self._match(tier)]
        if exclude:
            sql += " AND rowid NOT IN (SELECT value FROM json_each(%s))"
            params.append(json.dumps(exclude))
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()[0]

    def window(self, tier: int, limit: int, *, rank: bool, facets: bool) -> list[tuple]:
        score = f"bm25(catalog_search, {SQLITE_WEIGHTS})" if rank else "0"
        extra, join = (f", {_R_COLUMNS}", _R_JOIN) if facets else ("", "")
        self.cursor.execute(f"SELECT s.rowid, {score}{extra} FROM catalog_search s {join} "  # noqa: S608 - whitelisted columns, values are parameters
                            f"WHERE catalog_search MATCH %s LIMIT %s", [self._match(tier), limit])
        return self.cursor.fetchall()

    def rest(self, tier: int, exclude: list[int], offset: int, limit: int) -> tuple[list[int], int]:
        """A slice of the tier's matches outside ``exclude``, by id, and how many there are (only
        needed, so only exact, when the slice comes back short)."""
        self.cursor.execute(
            "SELECT rowid FROM catalog_search WHERE catalog_search MATCH %s AND rowid NOT IN "
            "(SELECT value FROM json_each(%s)) ORDER BY rowid LIMIT %s OFFSET %s",
            [self._match(tier), json.dumps(exclude), limit, offset])
        ids = [row[0] for row in self.cursor.fetchall()]
        return ids, (offset + len(ids) if ids or not offset else self.count(tier, exclude))

    def facet_groups(self) -> list[tuple]:
        self.cursor.execute(f"SELECT {_R_COLUMNS}, count(*) FROM catalog_search s {_R_JOIN} "  # noqa: S608 - whitelisted columns
                            f"WHERE catalog_search MATCH %s GROUP BY {_R_COLUMNS}", [self._match(None)])
        return self.cursor.fetchall()


class _Postgres(_Sqlite):
    """The same queries on the tsvector table (GIN). Windows come in physical order: the search
    runs with synchronized and parallel scans off, so that order is the same for every page. It
    also runs with ``random_page_cost`` 1.1: the index table is small and cached, and with the
    default (4, for spinning disks) the planner walked tens of thousands of rows in storage order
    rather than reading 2,000 of them through the GIN bitmap (measured 14 ms against 6 ms)."""

    def _tier(self, tier: int) -> str:
        pattern = ("'~n{}'", "'{}':AB", "'{}':ABC", "'{}'")[tier]
        return " & ".join(pattern.format(w) for w in self.words)

    def _match(self, tier: int | None) -> str:
        expr = f"({self._tier(TIERS - 1 if tier is None else tier)})"
        if tier:
            expr += f" & !({self._tier(tier - 1)})"
        return expr + "".join(f" & '~{term}'" for term in self.terms)

    def cheap_count(self) -> int | None:
        if len(self.words) != 1 or set(self.terms) - {PUBLIC_TERM}:
            return None
        self.cursor.execute(f"SELECT {'public_docs' if self.terms else 'docs'} FROM catalog_search_term "  # noqa: S608 - one of two column names
                            f"WHERE term = %s", [self.words[0]])
        row = self.cursor.fetchone()
        return row[0] if row else 0

    def count(self, tier: int | None, exclude: list[int] | None = None, cap: int | None = None) -> int:
        sql, params = "SELECT 1 FROM catalog_search WHERE tsv @@ %s::tsquery", [self._match(tier)]
        if exclude:
            sql += " AND NOT EXISTS (SELECT 1 FROM unnest(%s::bigint[]) h(id) WHERE h.id = resource_id)"
            params.append(exclude)
        if cap:
            sql += " LIMIT %s"
            params.append(cap)
        self.cursor.execute(f"SELECT count(*) FROM ({sql}) t", params)  # noqa: S608 - built above from constants
        return self.cursor.fetchone()[0]

    def window(self, tier: int, limit: int, *, rank: bool, facets: bool) -> list[tuple]:
        score, params = "0", []
        if rank:
            score, params = "-ts_rank(%s::float4[], tsv, %s::tsquery, 1)", [PG_WEIGHTS, self._tier(TIERS - 1)]
        self.cursor.execute(f"SELECT resource_id, {score}{', ' + _COLUMNS if facets else ''} FROM catalog_search "  # noqa: S608 - whitelisted columns, values are parameters
                            f"WHERE tsv @@ %s::tsquery LIMIT %s", [*params, self._match(tier), limit])
        return self.cursor.fetchall()

    def rest(self, tier: int, exclude: list[int], offset: int, limit: int) -> tuple[list[int], int]:
        self.cursor.execute(  # one pass: sorting by id reads every match of the tier anyway
            "WITH m AS MATERIALIZED (SELECT resource_id FROM catalog_search WHERE tsv @@ %s::tsquery AND NOT EXISTS "
            "(SELECT 1 FROM unnest(%s::bigint[]) h(id) WHERE h.id = resource_id)) "
            "SELECT ARRAY(SELECT resource_id FROM m ORDER BY resource_id LIMIT %s OFFSET %s), (SELECT count(*) FROM m)",
            [self._match(tier), exclude, limit, offset])
        ids, size = self.cursor.fetchone()
        return list(ids), size

    def facet_groups(self) -> list[tuple]:
        self.cursor.execute(f"SELECT {_COLUMNS}, count(*) FROM catalog_search WHERE tsv @@ %s::tsquery "  # noqa: S608 - whitelisted columns
                            f"GROUP BY {_COLUMNS}", [self._match(None)])
        return self.cursor.fetchall()


@contextlib.contextmanager
def _reading(words: list[str], terms: list[str]):
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            yield _Sqlite(cursor, words, terms)
            return
        with transaction.atomic():
            cursor.execute("SELECT set_config('synchronize_seqscans', 'off', true), "
                           "set_config('max_parallel_workers_per_gather', '0', true), "
                           "set_config('random_page_cost', '1.1', true)")
            yield _Postgres(cursor, words, terms)


def _head(index: _Sqlite, total: int | None, *, rank: bool, facets: bool) -> tuple[list[tuple], set[int]]:
    """The head, best first, as (tier, score, id, facet values), and the tiers it holds wholly."""
    rows: list[tuple] = []
    complete: set[int] = set()
    for tier in range(TIERS):
        wanted = CANDIDATES - len(rows)
        if wanted <= 0 or (total is not None and len(rows) >= total):
            break
        window = index.window(tier, wanted, rank=rank, facets=facets)
        rows += [(tier, score, pk, tuple(values)) for pk, score, *values in window]
        if len(window) < wanted:
            complete.add(tier)
    rows.sort(key=lambda row: (row[0], row[1], -row[2]))
    return rows, complete


def _rest(index: _Sqlite, head_ids: list[int], complete: set[int], offset: int, limit: int) -> list[int]:
    """Matches after the head: by tier, then by id."""
    ids: list[int] = []
    for tier in range(TIERS):
        if tier in complete:
            continue
        found, size = index.rest(tier, head_ids, offset, limit - len(ids))
        ids += found
        if len(ids) == limit:
            break
        offset = max(0, offset - size)
    return ids


def _counters(rows) -> dict[str, Counter]:
    counters: dict[str, Counter] = {name: Counter() for name in FACET_FIELDS}
    for *values, n in rows:
        for name, value in zip(FACET_FIELDS, values, strict=True):
            counters[name][value] += n
    return counters


def _search(index: _Sqlite, start: int, size: int, with_facets: bool) -> Hits | None:
    total = index.cheap_count()
    if total == 0:
        return None
    head, complete = _head(index, total, rank=start < CANDIDATES, facets=with_facets)
    if not head:
        return None
    more = len(head) >= CANDIDATES and (total is None or total > len(head))
    exact = True
    if total is None:
        if more:
            total = index.count(None, cap=COUNT_CAP + 1)
            total, exact = max(min(total, COUNT_CAP), len(head)), total <= COUNT_CAP
        else:
            total = len(head)
    ids = [row[2] for row in head[start:start + size]]
    if len(ids) < size and more:
        ids += _rest(index, [row[2] for row in head], complete, max(0, start - len(head)), size - len(ids))
    hits = Hits(ids, total, exact, index.words)
    if with_facets:
        hits.facets_exact = exact and total <= FACET_EXACT_LIMIT
        if hits.facets_exact and more:
            hits.facets = _counters(index.facet_groups())
        else:
            hits.facets = _counters((*values, n) for values, n in Counter(row[3] for row in head).items())
    return hits


def _like_fallback(query: str, filters: dict, public: bool) -> list[int]:
    """No indexed word matched (an unknown word, a single character): scan names, bounded."""
    rows = Resource.objects.filter(status=Resource.Status.PUBLISHED, name__icontains=query.strip()[:50])
    for name, value in filters.items():
        if value not in (None, ""):
            rows = rows.filter(**{FILTER_COLUMNS[name]: value})
    if public:
        rows = rows.filter(opening__in=PUBLIC_OPENINGS)
    return list(rows.order_by("name", "pk").values_list("pk", flat=True)[:CANDIDATES])


def search(query: str, filters: dict, *, public: bool, page: int, page_size: int,
           with_facets: bool = False) -> Hits:
    """One page of the published resources matching ``query`` (non-empty) under ``filters``."""
    words = segment.query_words(query)
    terms = _filter_terms(filters, public)
    if terms is None:
        return Hits([], 0, True, words, _counters([]) if with_facets else {})
    start = (page - 1) * page_size
    if words:
        with _reading(words, terms) as index:
            hits = _search(index, start, page_size, with_facets)
        if hits is not None:
            return hits
    fallback = _like_fallback(query, filters, public)
    hits = Hits(fallback[start:start + page_size], len(fallback), len(fallback) < CANDIDATES, words)
    if with_facets:
        hits.facets, hits.facets_exact = _counters(_facet_rows(fallback)), hits.count_exact
    return hits


def facet_counts(queryset) -> dict[str, Counter]:
    """Counts per value of each facet field over a queryset of resources (browsing, no query)."""
    columns = [FILTER_COLUMNS[name] for name in FACET_FIELDS]
    return _counters(queryset.order_by().values_list(*columns).annotate(n=Count("pk")))


def _facet_rows(resource_ids: list[int]) -> list[tuple]:
    """(facet values…, count) per combination, with the ids passed as ONE parameter."""
    if not resource_ids:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT {_COLUMNS}, count(*) FROM catalog_resource WHERE id = ANY(%s) "  # noqa: S608
                           f"GROUP BY {_COLUMNS}", [list(resource_ids)])
        else:
            cursor.execute(f"SELECT {_COLUMNS}, count(*) FROM catalog_resource "  # noqa: S608
                           f"WHERE id IN (SELECT value FROM json_each(%s)) GROUP BY {_COLUMNS}",
                           [json.dumps(list(resource_ids))])
        return cursor.fetchall()


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
                cursor.execute("INSERT INTO catalog_search_term (term, docs, public_docs) "
                               "SELECT word, count(*), count(*) FILTER (WHERE opening IN (%s, %s)) "
                               "FROM catalog_search, unnest(tsvector_to_array(tsv)) AS word GROUP BY word",
                               list(PUBLIC_OPENINGS))
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'catalog_search'")
            if cursor.fetchone():
                cursor.execute("DELETE FROM catalog_search WHERE rowid NOT IN (SELECT id FROM catalog_resource)")
