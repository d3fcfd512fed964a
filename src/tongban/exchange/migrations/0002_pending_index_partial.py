"""The sealing queue's index covers only the pending accesses (``ledger_event_id`` empty): it
stays as small as the backlog instead of growing with every access ever made."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('exchange', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='access',
            name='exchange_access_pending',
        ),
        migrations.AddIndex(
            model_name='access',
            index=models.Index(condition=models.Q(('ledger_event_id__isnull', True)), fields=['id'], name='exchange_access_pending'),
        ),
    ]
