"""Use cases of the oversight cockpit; each module holds its own authorization (``access``)."""
