from django.urls import include, path

urlpatterns = [
    path("", include("kliento.core.urls")),
    path("", include("kliento.customers.urls")),
    path("leads/", include("kliento.sales.leads.urls")),
    path("deals/", include("kliento.sales.deals.urls")),
    path("catalog/", include("kliento.sales.catalog.urls")),
    path("quotes/", include("kliento.sales.quotes.urls")),
    path("orders/", include("kliento.sales.orders.urls")),
    path("plans/", include("kliento.sales.plans.urls")),
    path("reports/", include("kliento.sales.reports.urls")),
    path("data/", include("kliento.dataio.transfer.urls")),
    path("duplicates/", include("kliento.dataio.dedup.urls")),
    path("settings/", include("kliento.core.settings_urls")),
    path("api/v1/", include("kliento.api_urls")),
]
