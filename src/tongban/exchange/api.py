"""The exchange API (mounted at /api/v1/exchange, "my data" at /api/v1/me/..., open data at
/api/v1/open-data/...): thin routers, one module per use-case group."""

from __future__ import annotations

from ninja import Router

from tongban.exchange import api_consume, api_me, api_open, api_records, api_requests

router = Router(tags=["exchange"])
router.add_router("", api_consume.router)  # first: the hot path (see site.api)
router.add_router("", api_records.router)
router.add_router("", api_requests.router)

me_router = api_me.router
open_router = api_open.router
