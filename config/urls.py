from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants import account_views, session_policy
from tenants import views as tenant_views

from . import views

urlpatterns = [
    path("", tenant_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/2fa/", include("tenants.second_factor_urls")),
    path("accounts/password/", account_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/session/", session_policy.session_status, name="session_status"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("workspace/", include("agents.chat.urls")),
    path("reports/", include("agents.reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("agents.api.urls")),
    path("v1/", include("agents.api.openai.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
]

# PostgreSQL down: 503 in the user's language (a page, or the APIs' error format), never a bare 500.
handler500 = "config.outages.server_error"
