from django.urls import path

from tongban.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.index, name="index"),
    path("entries/<int:index>/", views.entry, name="entry"),
]
