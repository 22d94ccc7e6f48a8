from django.urls import path

from loans import apis

urlpatterns = [
    path("loans", apis.LoanListCreateApi.as_view(), name="loan-list"),
    path("loans/<str:external_id>", apis.LoanDetailApi.as_view(), name="loan-detail"),
    path("loans/<str:external_id>/schedule", apis.LoanScheduleApi.as_view(), name="loan-schedule"),
    path(
        "loans/<str:external_id>/transactions",
        apis.LoanTransactionsApi.as_view(),
        name="loan-transactions",
    ),
    path("loans/<str:external_id>/activate", apis.LoanActivateApi.as_view(), name="loan-activate"),
    path("loans/<str:external_id>/reject", apis.LoanRejectApi.as_view(), name="loan-reject"),
    # Declared before customers.urls so that "balance" never reads as a customer id.
    path("customers/balance", apis.BalanceListApi.as_view(), name="balance-list"),
    path(
        "customers/<str:external_id>/balance",
        apis.BalanceDetailApi.as_view(),
        name="balance-detail",
    ),
    path(
        "customers/<str:external_id>/loans",
        apis.CustomerLoanListApi.as_view(),
        name="customer-loans",
    ),
]
