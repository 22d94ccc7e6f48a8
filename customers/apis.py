"""Customer endpoints: parse with an input serializer, call a service or selector, render."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from customers import bulk, selectors, services
from customers.filters import CustomerFilter
from customers.parsers import CSV_BODY_SCHEMA, CustomerCSVParser
from customers.serializers import (
    CustomerInputSerializer,
    CustomerOutputSerializer,
    CustomerUpdateSerializer,
)
from mo_loans.api.parsers import DecimalJSONParser
from mo_loans.api.views_base import ListApi, parse


class CustomerListCreateApi(ListApi):
    serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter

    def get_queryset(self):
        return selectors.customer_list()

    @extend_schema(operation_id="customers_list", responses=CustomerOutputSerializer(many=True))
    def get(self, request):
        return self.list_response(request)

    @extend_schema(
        operation_id="customers_create",
        request=CustomerInputSerializer,
        responses={201: CustomerOutputSerializer},
    )
    def post(self, request):
        customer = services.customer_create(**parse(CustomerInputSerializer, request.data))
        return Response(CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerBulkCreateApi(APIView):
    """Create many customers, all or nothing: a JSON list or a ``text/csv`` body."""

    parser_classes = [DecimalJSONParser, CustomerCSVParser]
    request_body_required = True  # mo_loans.api.schema.AutoSchema

    @extend_schema(
        operation_id="customers_bulk_create",
        request={
            "application/json": CustomerInputSerializer(many=True),
            "text/csv": CSV_BODY_SCHEMA,
        },
        responses={
            201: inline_serializer("CustomerBulkCreated", {"created": serializers.IntegerField()})
        },
    )
    def post(self, request):
        bulk.request_size_check(content_length=request.META.get("CONTENT_LENGTH"))
        created = bulk.customer_bulk_create(rows=request.data)
        return Response({"created": created}, status=status.HTTP_201_CREATED)


class CustomerDetailApi(GenericAPIView):
    serializer_class = CustomerOutputSerializer

    @extend_schema(operation_id="customers_retrieve", responses=CustomerOutputSerializer)
    def get(self, request, external_id: str):
        customer = selectors.customer_get(external_id=external_id)
        return Response(CustomerOutputSerializer(customer).data)

    @extend_schema(
        operation_id="customers_partial_update",
        request=CustomerUpdateSerializer,
        responses=CustomerOutputSerializer,
    )
    def patch(self, request, external_id: str):
        data = parse(CustomerUpdateSerializer, request.data)
        customer = services.customer_update(
            customer=selectors.customer_get(external_id=external_id), data=data
        )
        return Response(CustomerOutputSerializer(customer).data)
