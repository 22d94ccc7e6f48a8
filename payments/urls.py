from django.urls import path

from payments import apis

urlpatterns = [
    path("payments", apis.PaymentListCreateApi.as_view(), name="payment-list"),
    path("payments/<str:external_id>", apis.PaymentDetailApi.as_view(), name="payment-detail"),
    path(
        "payments/<str:external_id>/reverse",
        apis.PaymentReverseApi.as_view(),
        name="payment-reverse",
    ),
    path(
        "customers/<str:external_id>/payments",
        apis.CustomerPaymentListApi.as_view(),
        name="customer-payments",
    ),
]
