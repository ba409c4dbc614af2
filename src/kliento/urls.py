from django.urls import include, path

urlpatterns = [
    path("", include("kliento.core.urls")),
    path("", include("kliento.customers.urls")),
    path("settings/", include("kliento.core.settings_urls")),
    path("api/v1/", include("kliento.api_urls")),
]
