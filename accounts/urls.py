from django.urls import URLPattern, URLResolver, path

from . import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login/", views.HarbourLoginView.as_view(), name="login"),
    path("logout/", views.HarbourLogoutView.as_view(), name="logout"),
    path("session/", views.stay_signed_in, name="stay_signed_in"),
    path("password/", views.HarbourPasswordChangeView.as_view(), name="password_change"),
]
