from django.urls import path

from kliento.sales.quotes import views

urlpatterns = [
    path("", views.quote_list, name="quote_list"),
    path("new/", views.quote_create, name="quote_create"),
    path("<int:pk>/", views.quote_detail, name="quote_detail"),
    path("<int:pk>/edit/", views.quote_edit, name="quote_edit"),
    path("<int:pk>/lines/", views.quote_line_add, name="quote_line_add"),
    path("<int:pk>/lines/<int:line_id>/", views.quote_line_edit, name="quote_line_edit"),
    path("<int:pk>/lines/<int:line_id>/delete/", views.quote_line_delete, name="quote_line_delete"),
    path("<int:pk>/products/", views.quote_products, name="quote_products"),
    path("<int:pk>/approval/", views.quote_approval, name="quote_approval"),
    path("<int:pk>/revise/", views.quote_revise, name="quote_revise"),
    path("<int:pk>/send/", views.quote_send, name="quote_send"),
    path("<int:pk>/pdf/", views.quote_pdf, name="quote_pdf"),
    path("p/<str:token>/", views.quote_public, name="quote_public"),
    path("p/<str:token>/pdf/", views.quote_public_pdf, name="quote_public_pdf"),
    path("p/<str:token>/logo/", views.quote_public_logo, name="quote_public_logo"),
    path(
        "p/<str:token>/accept/",
        views.quote_public_answer,
        {"answer": "accept"},
        name="quote_public_accept",
    ),
    path(
        "p/<str:token>/decline/",
        views.quote_public_answer,
        {"answer": "decline"},
        name="quote_public_decline",
    ),
    path(
        "settings/company-details/",
        views.settings_company_details,
        name="settings_company_details",
    ),
    path("settings/logo/", views.company_logo, name="company_logo"),
]
