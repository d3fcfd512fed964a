"""Exchange pages: /workbench/exchange/... (stewards, consumers, the bureau), /me/data/ (my data),
/open-data/<code>/records.* (open data downloads)."""

from tongban.exchange import views_consume, views_me, views_open, views_records, views_requests

app_name = "exchange"
urlpatterns = [
    *views_records.urlpatterns,
    *views_requests.urlpatterns,
    *views_consume.urlpatterns,
    *views_me.urlpatterns,
    *views_open.urlpatterns,
]
