"""The one-stop API (mounted at /api/v1/onestop; the applicant's own lists at /api/v1/me/...):
thin routers, one module per use-case group."""

from __future__ import annotations

from ninja import Router

from tongban.onestop import api_applications, api_items, api_me, api_ratings

router = Router(tags=["onestop"])
router.add_router("", api_items.router)
router.add_router("", api_applications.router)
router.add_router("", api_ratings.router)

me_router = api_me.router
