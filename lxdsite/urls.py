"""lxdsite's URLs: LXD's API at the root, Django's admin and the API docs beside it."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Redoc without the Google Fonts links of drf-spectacular's page, so it works offline.
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="resources/redoc.html"),
        name="redoc",
    ),
    path("", include("resources.urls")),
]

# Errors outside a view answer in LXD's envelope too.
handler404 = "resources.exceptions.not_found_view"
handler500 = "resources.exceptions.server_error_view"
