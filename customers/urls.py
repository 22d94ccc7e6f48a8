from django.urls import path

from customers import apis

urlpatterns = [
    path("customers", apis.CustomerListCreateApi.as_view(), name="customer-list"),
    path("customers/<str:external_id>", apis.CustomerDetailApi.as_view(), name="customer-detail"),
]
