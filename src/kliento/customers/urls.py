from django.urls import path

from kliento.customers import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("search/", views.search_page, name="search"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/consent/", views.consent_toggle, name="contact_consent"),
    path(
        "contacts/<int:pk>/timeline/",
        views.record_timeline,
        {"entity": "contact"},
        name="contact_timeline",
    ),
    path(
        "contacts/<int:pk>/log/", views.interaction_log, {"entity": "contact"}, name="contact_log"
    ),
    path(
        "contacts/<int:pk>/plan/",
        views.interaction_plan,
        {"entity": "contact"},
        name="contact_plan",
    ),
    path(
        "contacts/<int:pk>/worked-with/",
        views.worked_with,
        {"entity": "contact"},
        name="contact_worked_with",
    ),
    path(
        "contacts/<int:pk>/delete/",
        views.record_delete,
        {"entity": "contact"},
        name="contact_delete",
    ),
    path(
        "contacts/<int:pk>/shares/",
        views.record_shares,
        {"entity": "contact"},
        name="contact_shares",
    ),
    path(
        "contacts/<int:pk>/shares/<int:user_id>/remove/",
        views.record_unshare,
        {"entity": "contact"},
        name="contact_unshare",
    ),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/pick/", views.company_pick, name="company_pick"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company_edit"),
    path(
        "companies/<int:pk>/timeline/",
        views.record_timeline,
        {"entity": "company"},
        name="company_timeline",
    ),
    path(
        "companies/<int:pk>/log/", views.interaction_log, {"entity": "company"}, name="company_log"
    ),
    path(
        "companies/<int:pk>/plan/",
        views.interaction_plan,
        {"entity": "company"},
        name="company_plan",
    ),
    path(
        "companies/<int:pk>/worked-with/",
        views.worked_with,
        {"entity": "company"},
        name="company_worked_with",
    ),
    path(
        "companies/<int:pk>/delete/",
        views.record_delete,
        {"entity": "company"},
        name="company_delete",
    ),
    path(
        "companies/<int:pk>/shares/",
        views.record_shares,
        {"entity": "company"},
        name="company_shares",
    ),
    path(
        "companies/<int:pk>/shares/<int:user_id>/remove/",
        views.record_unshare,
        {"entity": "company"},
        name="company_unshare",
    ),
    path("interactions/<int:pk>/", views.interaction_item, name="interaction_item"),
    path("interactions/<int:pk>/edit/", views.interaction_edit, name="interaction_edit"),
    path("interactions/<int:pk>/delete/", views.interaction_delete, name="interaction_delete"),
]
