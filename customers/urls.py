from django.urls import path

from customers import apis

urlpatterns = [
    path("customers", apis.CustomerListCreateApi.as_view(), name="customer-list"),
    # Before customers/<external_id>: "bulk" is a reserved word, never an external id.
    path("customers/bulk", apis.CustomerBulkCreateApi.as_view(), name="customer-bulk"),
    path("customers/<id:external_id>", apis.CustomerDetailApi.as_view(), name="customer-detail"),
]
