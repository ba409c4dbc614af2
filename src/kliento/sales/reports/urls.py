from django.urls import path

from kliento.sales.reports import views

urlpatterns = [
    path("", views.report_index, name="report_index"),
    path("forecast/", views.report_forecast, name="report_forecast"),
    path("forecast/deals/", views.report_forecast_drill, name="report_forecast_drill"),
    path("sales-cycle/", views.report_cycle, name="report_cycle"),
    path("sales-cycle/deals/", views.report_cycle_drill, name="report_cycle_drill"),
    path("activity/", views.report_activity, name="report_activity"),
    path("activity/records/", views.report_activity_drill, name="report_activity_drill"),
    path("pnl/", views.report_pnl, name="report_pnl"),
    path("pnl/orders/", views.report_pnl_drill, name="report_pnl_drill"),
]
