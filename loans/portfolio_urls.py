from django.urls import path

from loans import portfolio_apis

urlpatterns = [
    path("portfolio", portfolio_apis.PortfolioApi.as_view(), name="portfolio"),
    path(
        "loans/<id:external_id>/delinquency",
        portfolio_apis.LoanDelinquencyApi.as_view(),
        name="loan-delinquency",
    ),
]
