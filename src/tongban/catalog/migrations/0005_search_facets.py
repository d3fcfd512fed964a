"""The search index carries each resource's facet values, so filters and facets need no join with
``catalog_resource`` on PostgreSQL and no row reads on SQLite (see tongban.catalog.search): the
SQLite FTS5 table is rebuilt with a ``facets`` token column; the PostgreSQL table is rebuilt with
the value columns and marker lexemes in the tsvector (``~n<word>`` per name word, a code letter and
the value per facet value, ``~p`` when the public may see the resource), and the term table gains
a count of public documents. Existing entries are converted in SQL from what the index already
holds (no re-segmentation); the tables are rebuilt rather than updated in place so that they are
not left at twice their size. Statements are frozen here rather than imported from the app."""

from django.db import migrations

PUBLIC = "('open', 'conditional')"

SQLITE = [
    "CREATE VIRTUAL TABLE catalog_search_new USING fts5(name, keywords, abstract, provider, items, facets, "
    "tokenize = 'unicode61')",
    "INSERT INTO catalog_search_new (rowid, name, keywords, abstract, provider, items, facets) "
    "SELECT s.rowid, s.name, s.keywords, s.abstract, s.provider, s.items, "
    "'d' || r.department_id || ' s' || replace(r.sharing, '_', '') || ' o' || r.opening "
    "|| CASE WHEN r.theme <> '' THEN ' t' || replace(r.theme, '_', '') ELSE '' END "
    "|| ' f' || r.format || ' u' || replace(r.update_cycle, '_', '') "
    f"|| CASE WHEN r.opening IN {PUBLIC} THEN ' p' ELSE '' END "
    "FROM catalog_search s JOIN catalog_resource r ON r.id = s.rowid ORDER BY s.rowid",
    "DROP TABLE IF EXISTS catalog_search_vocab",
    "DROP TABLE catalog_search",
    "ALTER TABLE catalog_search_new RENAME TO catalog_search",
]
SQLITE_REVERSE = [
    "CREATE VIRTUAL TABLE catalog_search_old USING fts5(name, keywords, abstract, provider, items, "
    "tokenize = 'unicode61')",
    "INSERT INTO catalog_search_old (rowid, name, keywords, abstract, provider, items) "
    "SELECT rowid, name, keywords, abstract, provider, items FROM catalog_search",
    "DROP TABLE catalog_search",
    "ALTER TABLE catalog_search_old RENAME TO catalog_search",
    "CREATE VIRTUAL TABLE catalog_search_vocab USING fts5vocab(catalog_search, 'row')",
]

POSTGRES = [
    "CREATE TABLE catalog_search_new (resource_id bigint PRIMARY KEY, tsv tsvector NOT NULL, department_id bigint, "
    "sharing text NOT NULL DEFAULT '', opening text NOT NULL DEFAULT '', theme text NOT NULL DEFAULT '', "
    "format text NOT NULL DEFAULT '', update_cycle text NOT NULL DEFAULT '')",
    "INSERT INTO catalog_search_new (resource_id, tsv, department_id, sharing, opening, theme, format, update_cycle) "
    "SELECT s.resource_id, s.tsv "
    "|| array_to_tsvector(ARRAY(SELECT '~n' || w FROM unnest(tsvector_to_array(ts_filter(s.tsv, '{a}'))) w)) "
    "|| array_to_tsvector(array_remove(ARRAY['~d' || r.department_id, '~s' || r.sharing, '~o' || r.opening, "
    "CASE WHEN r.theme <> '' THEN '~t' || r.theme END, '~f' || r.format, '~u' || r.update_cycle, "
    f"CASE WHEN r.opening IN {PUBLIC} THEN '~p' END], NULL)), "
    "r.department_id, r.sharing, r.opening, r.theme, r.format, r.update_cycle "
    "FROM catalog_search s JOIN catalog_resource r ON r.id = s.resource_id ORDER BY s.resource_id",
    "DROP TABLE catalog_search",
    "ALTER TABLE catalog_search_new RENAME TO catalog_search",
    "ALTER INDEX catalog_search_new_pkey RENAME TO catalog_search_pkey",
    "CREATE INDEX catalog_search_tsv ON catalog_search USING gin (tsv)",
    "ALTER TABLE catalog_search_term ADD COLUMN public_docs integer NOT NULL DEFAULT 0",
    "DELETE FROM catalog_search_term",
    "INSERT INTO catalog_search_term (term, docs, public_docs) "
    f"SELECT word, count(*), count(*) FILTER (WHERE opening IN {PUBLIC}) "
    "FROM catalog_search, unnest(tsvector_to_array(tsv)) AS word GROUP BY word",
    "ANALYZE catalog_search",
]
POSTGRES_REVERSE = [
    "UPDATE catalog_search SET tsv = ts_delete(tsv, ARRAY(SELECT w FROM unnest(tsvector_to_array(tsv)) w "
    "WHERE left(w, 1) = '~'))",
    "ALTER TABLE catalog_search DROP COLUMN department_id, DROP COLUMN sharing, DROP COLUMN opening, "
    "DROP COLUMN theme, DROP COLUMN format, DROP COLUMN update_cycle",
    "DELETE FROM catalog_search_term WHERE left(term, 1) = '~'",
    "ALTER TABLE catalog_search_term DROP COLUMN public_docs",
]


def forward(apps, schema_editor):
    for statement in POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    for statement in POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_alter_item_masking")]
    operations = [migrations.RunPython(forward, backward)]
