from django.urls import include, path

from kliento.core import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/language/", views.user_language, name="user_language"),
    path("saved-views/", views.saved_view_create, name="saved_view_create"),
    path("saved-views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("i18n/", include("django.conf.urls.i18n")),
]
