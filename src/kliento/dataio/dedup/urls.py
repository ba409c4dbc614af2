from django.urls import path

from kliento.dataio.dedup import views

urlpatterns = [
    path("", views.queue, name="dedup_queue"),
    path("<int:pk>/", views.pair_detail, name="dedup_pair"),
    path("<int:pk>/merge/", views.pair_merge, name="dedup_pair_merge"),
    path("<int:pk>/dismiss/", views.pair_dismiss, name="dedup_pair_dismiss"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="dedup_merge_undo"),
    path("scan/", views.scan_start, name="dedup_scan"),
    path("bulk-merge/", views.bulk_merge, name="dedup_bulk_merge"),
    path("jobs/<int:pk>/", views.job_progress, name="dedup_job"),
    path("check/<str:entity>/", views.entry_check, name="dedup_entry_check"),
]
