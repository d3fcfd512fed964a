"""The one place identity reports security events (logins, lockouts, tokens, role changes).

Each event goes to the tamper-evident ledger (in the caller's transaction) and to the
``tongban.security`` log; security oversight reads them there. Personal identifiers never go in
clear: events name accounts by username. The name typed into a failed login is not trusted —
it may be someone else's account or a mistyped password — so it is filed only as a keyed
hash: the account's owner can still find the attempts on their account, nobody can read it.
"""

from __future__ import annotations

import logging
from typing import Any

from tongban.ledger import services as ledger
from tongban.ledger.canonical import normalise_identifier

logger = logging.getLogger("tongban.security")

# Actions reported here; oversight keys its alerts on these names.
LOGIN_SUCCEEDED = "identity.login_succeeded"
LOGIN_FAILED = "identity.login_failed"
LOCKED_OUT = "identity.locked_out"
TOKEN_CREATED = "identity.token_created"  # noqa: S105 - an event name
TOKEN_REVOKED = "identity.token_revoked"  # noqa: S105 - an event name
ROLES_CHANGED = "identity.roles_changed"
OFFICIAL_CREATED = "identity.official_created"
ACCOUNT_REGISTERED = "identity.account_registered"
MFA_ENROLLED = "identity.mfa_enrolled"
PASSWORD_CHANGED = "identity.password_changed"  # noqa: S105 - an event name

UNTRUSTED_ACTOR_ACTIONS = {LOGIN_FAILED, LOCKED_OUT}


def record_auth_event(action: str, *, actor: str, subject: str = "", department: str | None = None,
                      payload: dict[str, Any] | None = None) -> None:
    """Record one security event. Runs inside the caller's transaction."""
    if action in UNTRUSTED_ACTOR_ACTIONS:
        # A name that is blank once normalised (an empty login form) has no account to file it under.
        subject_ids = [actor] if normalise_identifier(actor) else []
        ledger.record(actor="anonymous", action=action, payload=payload, subject_ids=subject_ids)
        logger.info("%s %s", action, payload or {})
        return
    ledger.record(actor=actor, action=action, subject=subject, department=department, payload=payload)
    logger.info("%s actor=%s subject=%s department=%s %s", action, actor, subject, department or "-",
                payload or {})
