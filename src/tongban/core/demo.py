"""The demo province, assembled from each app's ``demo`` module.

Every installed tongban app may have a ``demo.py`` with ``load(context)``; ``tongban demo``
calls them in INSTALLED_APPS order (which follows the layering, so an app finds the data of
the apps below it). Loaders must be deterministic and idempotent: running the demo twice
neither fails nor duplicates anything (they upsert by natural keys).
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps

from tongban.core.models import PlatformFlag

DEMO_PASSWORD = "tongban-demo"  # noqa: S105 - the documented password of synthetic demo accounts
DEMO_SEED = 20261122


@dataclass
class DemoContext:
    """Shared by the loaders of one run: a seeded random source and what to print at the end."""

    say: Callable[[str], None] = print
    rng: random.Random = field(default_factory=lambda: random.Random(DEMO_SEED))
    logins: list[tuple[str, str]] = field(default_factory=list)  # (username, description)
    notes: list[str] = field(default_factory=list)


def demo_modules() -> list:
    modules = []
    for config in apps.get_app_configs():
        if not config.name.startswith("tongban."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.demo":
                raise
            continue
        if hasattr(module, "load"):  # core's demo module is this framework, not a loader
            modules.append(module)
    return modules


def load_demo(context: DemoContext) -> DemoContext:
    """Load every app's part of the demo. The caller holds the transaction."""
    for module in demo_modules():
        module.load(context)
    PlatformFlag.objects.update_or_create(key=PlatformFlag.DEMO_DATA, defaults={"value": "1"})
    return context
