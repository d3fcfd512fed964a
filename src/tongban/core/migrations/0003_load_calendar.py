"""Load the published holiday schedule (core/data/calendar.json) into CalendarDay."""

import datetime
import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "calendar.json"


def load(apps, schema_editor):
    CalendarDay = apps.get_model("core", "CalendarDay")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    for kind, section in (("holiday", data["holidays"]), ("workday", data["workdays"])):
        for year in section.values():
            for name, dates in year.items():
                for value in dates:
                    CalendarDay.objects.update_or_create(
                        date=datetime.date.fromisoformat(value), defaults={"kind": kind, "name": name}
                    )


class Migration(migrations.Migration):
    dependencies = [("core", "0002_calendar")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
