"""Payment endpoints. Thin: parse, call ``payment_make`` or a selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from customers.selectors import customer_get
from mo_loans.api.views_base import ListApi, parse
from payments import selectors, services
from payments.filters import PaymentFilter
from payments.models import Payment
from payments.serializers import (
    PaymentInputSerializer,
    PaymentOutputSerializer,
    PaymentReverseInputSerializer,
)


class PaymentListCreateApi(ListApi):
    """Payments: list with filters, or make one."""

    serializer_class = PaymentOutputSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        return selectors.payment_list()

    @extend_schema(operation_id="payments_list", responses=PaymentOutputSerializer(many=True))
    def get(self, request):
        return self.list_response(request)

    @extend_schema(
        operation_id="payments_create",
        request=PaymentInputSerializer,
        responses={201: PaymentOutputSerializer},
    )
    def post(self, request):
        payment = services.payment_make(**parse(PaymentInputSerializer, request.data))
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentDetailApi(GenericAPIView):
    """One payment with its details."""

    serializer_class = PaymentOutputSerializer
    queryset = Payment.objects.none()

    @extend_schema(operation_id="payments_retrieve")
    def get(self, request, external_id: str):
        payment = selectors.payment_get(external_id=external_id)
        return Response(PaymentOutputSerializer(payment).data)


class PaymentReverseApi(GenericAPIView):
    """Reverse a completed payment (a bounced transfer, a posting error), with a reason."""

    serializer_class = PaymentOutputSerializer
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="payments_reverse",
        request=PaymentReverseInputSerializer,
        responses=PaymentOutputSerializer,
    )
    def post(self, request, external_id: str):
        data = parse(PaymentReverseInputSerializer, request.data)
        payment = services.payment_reverse(external_id=external_id, **data)
        return Response(PaymentOutputSerializer(payment).data)


class CustomerPaymentListApi(ListApi):
    """One customer's payments."""

    serializer_class = PaymentOutputSerializer
    filterset_class = PaymentFilter
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="customers_payments_list", responses=PaymentOutputSerializer(many=True)
    )
    def get(self, request, external_id: str):
        customer = customer_get(external_id=external_id)
        return self.list_response(request, selectors.payment_list().filter(customer=customer))
