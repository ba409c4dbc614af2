from django.urls import path

from kliento.sales.deals import views

urlpatterns = [
    path("", views.deal_board, name="deal_board"),
    path(
        "board/<int:pipeline_pk>/<int:stage_pk>/",
        views.deal_board_column,
        name="deal_board_column",
    ),
    path("list/", views.deal_list, name="deal_list"),
    path("new/", views.deal_create, name="deal_create"),
    path("settings/", views.settings_pipelines, name="settings_pipelines"),
    path("<int:pk>/", views.deal_detail, name="deal_detail"),
    path("<int:pk>/edit/", views.deal_edit, name="deal_edit"),
    path("<int:pk>/delete/", views.deal_delete, name="deal_delete"),
    path("<int:pk>/move/", views.deal_move_view, name="deal_move"),
    path("<int:pk>/pipeline/", views.deal_move_pipeline, name="deal_move_pipeline"),
    path("<int:pk>/win/", views.deal_close_view, {"action": "win"}, name="deal_win"),
    path("<int:pk>/lose/", views.deal_close_view, {"action": "lose"}, name="deal_lose"),
    path("<int:pk>/reopen/", views.deal_close_view, {"action": "reopen"}, name="deal_reopen"),
    path("<int:pk>/products/", views.deal_products_view, name="deal_products"),
    path("<int:pk>/log/", views.deal_log, name="deal_log"),
]
