from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from mo_loans.admin_portfolio import portfolio_page
from mo_loans.api import views
from mo_loans.api.docs import RedocView, SwaggerView
from mo_loans.observability.views import metrics

api_patterns = [
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc", RedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("loans.urls")),  # first: it owns customers/balance
    path("", include("loans.portfolio_urls")),
    path("", include("customers.urls")),
    path("", include("payments.urls")),
    re_path(r"^.*$", views.api_not_found),
]

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin", RedirectView.as_view(url="/admin/")),  # the admin lives under /admin/
    # Before admin.site.urls, whose catch-all would answer it with a 404.
    path("admin/portfolio/", admin.site.admin_view(portfolio_page), name="admin-portfolio"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
]
if settings.METRICS_ENABLED:
    # Prometheus scrapes it inside the cluster; never route it from a public ingress.
    urlpatterns.append(path("metrics", metrics, name="metrics"))

handler400 = "mo_loans.api.views.json_400"
handler403 = "mo_loans.api.views.json_403"
handler404 = "mo_loans.api.views.json_404"
handler500 = "mo_loans.api.views.json_500"
