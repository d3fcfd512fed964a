"""The worker finds every task: `tongban worker` only autodiscovers each app's ``tasks`` module,
and tests run tasks inline (immediate mode), so a task defined elsewhere and never imported
there would work in tests and never run in production. Checked in a fresh interpreter, since
this test process has imported every module already."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import django, json
django.setup()
from django.utils.module_loading import autodiscover_modules
from huey.contrib.djhuey import HUEY
autodiscover_modules("tasks")
print(json.dumps(sorted(HUEY._registry._registry)))
"""

EXPECTED = (
    "tongban.exchange.webhook_deliver", "tongban.exchange.webhook_retry", "sweep_overdue_requests",
    "tongban.onestop.sweep_default_ratings", "tongban.onestop.sweep_overdue_applications",
    "tongban.policies.match", "tongban.oversight.quality", "tongban.oversight.quality_daily",
    "tongban.oversight.assessment", "tongban.oversight.detect_alerts",
)


def test_autodiscovered_tasks_include_every_background_task(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tongban.site.settings", "TONGBAN_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=120)
    names = json.loads(out.stdout.strip().splitlines()[-1])
    missing = [name for name in EXPECTED if not any(registered.endswith(name) for registered in names)]
    assert not missing, (missing, names)
