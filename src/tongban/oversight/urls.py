"""Cockpit pages (驾驶舱) under /cockpit/: overview, quality, assessment, sharing flows,
services and security alerts."""

from tongban.oversight import views_alerts, views_quality, views_stats

app_name = "oversight"
urlpatterns = [
    *views_stats.urlpatterns,
    *views_quality.urlpatterns,
    *views_alerts.urlpatterns,
]
