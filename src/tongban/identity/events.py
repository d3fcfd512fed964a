"""The one place identity reports security events (logins, lockouts, tokens, role changes).

Security oversight reads these; the tamper-evident ledger takes them through this one call,
so no other module writes auth events. Personal identifiers are never logged here: events name
accounts by username and user id only.
"""

from __future__ import annotations

import logging
from typing import Any

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


def record_auth_event(action: str, *, actor: str, subject: str = "", department: str | None = None,
                      payload: dict[str, Any] | None = None) -> None:
    """Record one security event. Runs inside the caller's transaction."""
    logger.info("%s actor=%s subject=%s department=%s %s", action, actor, subject, department or "-",
                payload or {})
