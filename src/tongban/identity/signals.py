"""Changes to who may do what reach every worker's cache on its next request.

The exchange's hot path caches token → actor (with the user's roles) per process and trusts it
until the access generation moves (``core.generations``). Token revocation bumps it in
``tokens``; these receivers bump it for the other changes that alter an actor — a role given
or taken (from the officials page or the back office) and a user deactivated — in the
transaction that makes the change."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from tongban.core import generations


def _role_changed(sender, instance, **kwargs) -> None:
    generations.bump()


def _user_saved(sender, instance, created: bool = False, **kwargs) -> None:
    if not created and not instance.is_active:
        generations.bump()


def connect() -> None:
    from tongban.identity.models import RoleAssignment, User

    post_save.connect(_role_changed, sender=RoleAssignment, dispatch_uid="identity-role-saved")
    post_delete.connect(_role_changed, sender=RoleAssignment, dispatch_uid="identity-role-deleted")
    post_save.connect(_user_saved, sender=User, dispatch_uid="identity-user-saved")
