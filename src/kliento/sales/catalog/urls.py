from django.urls import path

from kliento.sales.catalog import views

urlpatterns = [
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:pk>/edit/", views.product_edit, name="product_edit"),
    path("products/<int:pk>/active/", views.product_deactivate, name="product_deactivate"),
    path("price-lists/", views.price_list_list, name="price_list_list"),
    path("price-lists/new/", views.price_list_create, name="price_list_create"),
    path("price-lists/<int:pk>/", views.price_list_detail, name="price_list_detail"),
    path("settings/currency-rates/", views.settings_currency_rates, name="settings_currency_rates"),
    path(
        "settings/discount-limits/", views.settings_discount_limits, name="settings_discount_limits"
    ),
]
