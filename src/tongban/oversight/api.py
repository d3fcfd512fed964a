"""The oversight API (mounted at /api/v1/oversight): thin routers, one module per area."""

from __future__ import annotations

from ninja import Router

from tongban.oversight import api_alerts, api_quality, api_stats

router = Router(tags=["oversight"])
router.add_router("", api_quality.router)
router.add_router("", api_stats.router)
router.add_router("", api_alerts.router)
