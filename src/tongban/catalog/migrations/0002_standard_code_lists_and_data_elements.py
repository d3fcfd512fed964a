"""Ship the standard code lists and data elements with every deployment (from catalog/data/*.json)."""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load(apps, schema_editor):
    CodeList = apps.get_model("catalog", "CodeList")
    CodeListEntry = apps.get_model("catalog", "CodeListEntry")
    DataElement = apps.get_model("catalog", "DataElement")
    lists = {}
    for spec in json.loads((DATA / "code_lists.json").read_text(encoding="utf-8")):
        code_list, _ = CodeList.objects.update_or_create(
            identifier=spec["identifier"],
            defaults={key: spec.get(key, "") for key in ("name", "name_en", "standard", "version")},
        )
        lists[code_list.identifier] = code_list
        for entry in spec["entries"]:
            CodeListEntry.objects.update_or_create(
                code_list=code_list, code=entry["code"],
                defaults={key: entry.get(key, "") for key in ("name", "name_en", "parent_code")}
                | {"order": entry.get("order", 0)},
            )
    for spec in json.loads((DATA / "data_elements.json").read_text(encoding="utf-8")):
        fields = {key: spec[key] for key in ("name", "name_en", "default_key", "definition", "data_type",
                                             "max_length", "pattern", "format")}
        fields["code_list"] = lists[spec["code_list"]] if spec.get("code_list") else None
        DataElement.objects.update_or_create(identifier=spec["identifier"], version=spec["version"], defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
