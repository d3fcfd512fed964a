"""Use cases of the policy service; each module holds its own authorization (deny by default)."""
