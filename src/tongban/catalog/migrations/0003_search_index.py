"""The full-text search index: an FTS5 table on SQLite, a tsvector table with GIN on PostgreSQL
(see tongban.catalog.search for the design and the measurements behind it). The statements are
written out here, frozen, rather than imported from the app."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE catalog_search USING fts5(name, keywords, abstract, provider, items, "
    "tokenize = 'unicode61')",
    "CREATE VIRTUAL TABLE catalog_search_vocab USING fts5vocab(catalog_search, 'row')",
]
SQLITE_DROP = ["DROP TABLE IF EXISTS catalog_search_vocab", "DROP TABLE IF EXISTS catalog_search"]
POSTGRES = [
    # No foreign key: Django's flush (TRUNCATE of its own tables) must not trip over this table;
    # entries are removed by the services, and orphans after a flush by catalog.search.prune_orphans.
    "CREATE TABLE catalog_search (resource_id bigint PRIMARY KEY, tsv tsvector NOT NULL)",
    "CREATE INDEX catalog_search_tsv ON catalog_search USING gin (tsv)",
    "CREATE TABLE catalog_search_term (term text PRIMARY KEY, docs integer NOT NULL)",
]
POSTGRES_DROP = ["DROP TABLE IF EXISTS catalog_search_term", "DROP TABLE IF EXISTS catalog_search"]


def create(apps, schema_editor):
    for statement in POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    for statement in POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_standard_code_lists_and_data_elements")]
    operations = [migrations.RunPython(create, drop)]
