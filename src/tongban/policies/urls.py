"""Policy pages (政策通): the public library and one policy (/policies/...), policies for me
(/me/policies/), and the officials' workbench (/workbench/policies/...)."""

from tongban.policies import views_library, views_workbench

app_name = "policies"
urlpatterns = [
    *views_library.urlpatterns,
    *views_workbench.urlpatterns,
]
