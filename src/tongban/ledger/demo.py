"""The ledger's part of the demo: none of its own data, but a signed checkpoint at the end.

Loaders run in layer order inside one transaction, so this one runs before the apps whose
events fill the ledger. It only asks for an integration when that transaction commits: by
then every entry the demo recorded is committed and gets integrated and signed, and even an
empty ledger gets its first checkpoint (and the node its signing key).
"""

from __future__ import annotations

from django.db import transaction

from tongban.core.demo import DemoContext
from tongban.ledger import integrator


def load(context: DemoContext) -> None:
    def integrate_after_demo() -> None:
        result = integrator.integrate()
        context.say(f"账本已整合 / Ledger integrated: {result.size} entries, checkpoint signed")

    transaction.on_commit(integrate_after_demo)
