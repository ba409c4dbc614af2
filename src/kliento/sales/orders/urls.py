from django.urls import path

from kliento.sales.orders import views

urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("new/", views.order_create, name="order_create"),
    path("new/line/", views.order_line_row, name="order_line_row"),
    path("new/totals/", views.order_form_totals, name="order_form_totals"),
    path("new/customers/", views.order_customer_pick, name="order_customer_pick"),
    path("<int:pk>/", views.order_detail, name="order_detail"),
    path("<int:pk>/status/", views.order_status, name="order_status"),
    path("<int:pk>/edit/", views.order_edit, name="order_edit"),
]
