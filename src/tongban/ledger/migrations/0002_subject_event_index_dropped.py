"""``LedgerSubject.event`` loses its own index: ``ledger_subject_once`` (event_id, hash) already
serves every lookup by event, and the second index cost a write per subject of every entry.

Dropped by name rather than through ``AlterField``: on SQLite that would rebuild the whole table
(copying every subject row of the ledger) just to leave out one index.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "ledger_subject_event_id_8a40f6b5"  # the name Django gave it in 0001 (same on every backend)


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{INDEX}"',
                                  reverse_sql=f'CREATE INDEX "{INDEX}" ON "ledger_subject" ("event_id")'),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="ledgersubject",
                    name="event",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="subject_hashes", to="ledger.ledgerevent",
                                            verbose_name="entry"),
                ),
            ],
        ),
    ]
