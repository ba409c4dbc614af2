from django.urls import path

from kliento.sales.leads import views

urlpatterns = [
    path("", views.lead_list, name="lead_list"),
    path("new/", views.lead_create, name="lead_create"),
    path("distribute/", views.lead_distribute, name="lead_distribute"),
    path("<int:pk>/", views.lead_detail, name="lead_detail"),
    path("<int:pk>/edit/", views.lead_edit, name="lead_edit"),
    path("<int:pk>/delete/", views.lead_delete, name="lead_delete"),
    path("<int:pk>/log/", views.lead_log, name="lead_log"),
    path("<int:pk>/convert/", views.lead_convert, name="lead_convert"),
    path("<int:pk>/disqualify/", views.lead_disqualify, name="lead_disqualify"),
    path("<int:pk>/reopen/", views.lead_reopen, name="lead_reopen"),
    path("f/<str:key>/", views.web_form_submit, name="web_form_submit"),
    path("settings/web-forms/", views.settings_web_forms, name="settings_web_forms"),
    path(
        "settings/web-forms/new/", views.settings_web_form_create, name="settings_web_form_create"
    ),
    path(
        "settings/web-forms/<int:pk>/", views.settings_web_form_edit, name="settings_web_form_edit"
    ),
    path(
        "settings/assignment-rules/",
        views.settings_assignment_rules,
        name="settings_assignment_rules",
    ),
    path("settings/scoring-rules/", views.settings_scoring_rules, name="settings_scoring_rules"),
]
