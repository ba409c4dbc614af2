from django.urls import path

from kliento.sales.plans import views

urlpatterns = [
    path("", views.plan_overview, name="plan_overview"),
    path("target/", views.plan_target_save, name="plan_target_save"),
]
