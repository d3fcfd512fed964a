"""One-stop pages: the service hall and guides (/services/...), the application wizard and my
applications (/me/applications/...), the clerk window and review queues (/workbench/onestop/...),
ratings and rectification, the inbox (/me/inbox/)."""

from tongban.onestop import views_apply, views_hall, views_ratings, views_window

app_name = "onestop"
urlpatterns = [
    *views_hall.urlpatterns,
    *views_apply.urlpatterns,
    *views_window.urlpatterns,
    *views_ratings.urlpatterns,
]
