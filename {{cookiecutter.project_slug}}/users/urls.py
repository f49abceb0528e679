"""Sign in and out with Django's own views, for the pages that need a user."""

from django.contrib.auth import views as auth_views
from django.urls import path

app_name = "users"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
