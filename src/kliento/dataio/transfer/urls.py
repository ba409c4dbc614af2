from django.urls import path

from kliento.dataio.transfer import views

urlpatterns = [
    path("", views.data_home, name="data_home"),
    path("imports/upload/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/preview/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/start/", views.import_start, name="import_start"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/errors.csv", views.import_errors, name="import_errors"),
    path("export/<str:entity>/", views.export_start, name="export_start"),
    path("exports/<int:pk>/", views.export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("full-export/", views.full_export, name="full_export"),
    path(
        "contacts/<int:pk>/personal-data/",
        views.contact_personal_data,
        name="contact_personal_data",
    ),
    path("contacts/<int:pk>/erase/", views.contact_erase, name="contact_erase"),
]
