"""Personal settings and the administration area, mounted under /settings/."""

from django.urls import path

from kliento.core import settings_views as views

urlpatterns = [
    path("", views.personal, name="settings_personal"),
    path("profile/", views.profile_save, name="settings_profile_save"),
    path("password/", views.password_change, name="settings_password"),
    path("api-keys/", views.apikeys_all, name="settings_apikeys"),
    path("api-keys/new/", views.apikey_create, name="settings_apikey_create"),
    path("api-keys/<int:pk>/revoke/", views.apikey_revoke, name="settings_apikey_revoke"),
    path("users/", views.user_list, name="settings_users"),
    path("users/new/", views.user_create, name="settings_user_create"),
    path("users/<int:pk>/", views.user_edit, name="settings_user_edit"),
    path("users/<int:pk>/password/", views.user_password, name="settings_user_password"),
    path("teams/", views.team_list, name="settings_teams"),
    path("teams/<int:pk>/", views.team_edit, name="settings_team_edit"),
    path("custom-fields/", views.custom_field_list, name="settings_custom_fields"),
    path("custom-fields/new/", views.custom_field_create, name="settings_custom_field_create"),
    path("custom-fields/<int:pk>/", views.custom_field_edit, name="settings_custom_field_edit"),
    path(
        "custom-fields/<int:pk>/delete/",
        views.custom_field_delete,
        name="settings_custom_field_delete",
    ),
    path("organisation/", views.organisation, name="settings_organisation"),
    path("audit/", views.audit, name="settings_audit"),
    path("jobs/", views.jobs, name="settings_jobs"),
]
