"""Loan, schedule and balance endpoints. Thin: parse, call a service or selector, render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from customers.selectors import customer_get
from loans import selectors, services
from loans.filters import BalanceFilter, LoanFilter
from loans.models import Loan
from loans.serializers import (
    BalanceDetailOutputSerializer,
    BalanceOutputSerializer,
    InstallmentOutputSerializer,
    LoanActivateInputSerializer,
    LoanDetailOutputSerializer,
    LoanInputSerializer,
    LoanOutputSerializer,
    LoanRejectInputSerializer,
)
from mo_loans.api.serializers import AsOfQuerySerializer
from mo_loans.api.views_base import ListApi, parse

AS_OF = OpenApiParameter(
    "as_of",
    OpenApiTypes.DATE,
    description="The date the billing state is computed for (default: today).",
)


def as_of_param(request):
    return parse(AsOfQuerySerializer, request.query_params.dict(), partial=False).get("as_of")


def loan_detail_response(loan, *, as_of=None, status_code=status.HTTP_200_OK) -> Response:
    loan.state = selectors.loan_billing_state(loan=loan, as_of=as_of)
    return Response(LoanDetailOutputSerializer(loan).data, status=status_code)


class LoanListCreateApi(ListApi):
    """Loans: list with filters, or create one (pending)."""

    serializer_class = LoanOutputSerializer
    filterset_class = LoanFilter

    def get_queryset(self):
        return selectors.loan_list()

    @extend_schema(operation_id="loans_list", responses=LoanOutputSerializer(many=True))
    def get(self, request):
        return self.list_response(request)

    @extend_schema(
        operation_id="loans_create",
        request=LoanInputSerializer,
        responses={201: LoanDetailOutputSerializer},
    )
    def post(self, request):
        loan = services.loan_create(**parse(LoanInputSerializer, request.data))
        return loan_detail_response(loan, status_code=status.HTTP_201_CREATED)


class LoanDetailApi(GenericAPIView):
    """One loan with its billing state as of ``as_of``."""

    serializer_class = LoanDetailOutputSerializer

    @extend_schema(operation_id="loans_retrieve", parameters=[AS_OF])
    def get(self, request, external_id: str):
        as_of = as_of_param(request)
        return loan_detail_response(selectors.loan_get(external_id=external_id), as_of=as_of)


class LoanScheduleApi(GenericAPIView):
    """Every instalment of a loan with what was paid to it as of ``as_of`` (not paginated)."""

    serializer_class = InstallmentOutputSerializer
    pagination_class = None
    queryset = Loan.objects.none()  # tells the schema what {external_id} is

    @extend_schema(
        operation_id="loans_schedule",
        parameters=[AS_OF],
        responses=InstallmentOutputSerializer(many=True),
    )
    def get(self, request, external_id: str):
        as_of = as_of_param(request)
        loan = selectors.loan_get(external_id=external_id)
        rows = selectors.loan_schedule(loan=loan, as_of=as_of)
        return Response(InstallmentOutputSerializer(rows, many=True).data)


class LoanActivateApi(GenericAPIView):
    """Make a pending loan active from ``taken_at`` (default now)."""

    serializer_class = LoanDetailOutputSerializer

    @extend_schema(
        operation_id="loans_activate",
        request=LoanActivateInputSerializer,
        responses=LoanDetailOutputSerializer,
    )
    def post(self, request, external_id: str):
        data = parse(LoanActivateInputSerializer, request.data)
        return loan_detail_response(services.loan_activate(external_id=external_id, **data))


class LoanRejectApi(GenericAPIView):
    """Reject a pending loan."""

    serializer_class = LoanDetailOutputSerializer

    @extend_schema(operation_id="loans_reject", request=None, responses=LoanDetailOutputSerializer)
    def post(self, request, external_id: str):
        parse(LoanRejectInputSerializer, request.data or {})
        return loan_detail_response(services.loan_reject(external_id=external_id))


class CustomerLoanListApi(ListApi):
    """One customer's loans."""

    serializer_class = LoanOutputSerializer
    filterset_class = LoanFilter

    @extend_schema(operation_id="customers_loans_list", responses=LoanOutputSerializer(many=True))
    def get(self, request, external_id: str):
        customer = customer_get(external_id=external_id)
        return self.list_response(request, selectors.loan_list().filter(customer=customer))

    def get_queryset(self):
        return selectors.loan_list()


class BalanceListApi(ListApi):
    """Every customer's balance now."""

    serializer_class = BalanceOutputSerializer
    filterset_class = BalanceFilter

    def get_queryset(self):
        return selectors.customer_balance_list()

    @extend_schema(
        operation_id="customers_balance_list", responses=BalanceOutputSerializer(many=True)
    )
    def get(self, request):
        return self.list_response(request)


class BalanceDetailApi(GenericAPIView):
    """One customer's balance and delinquency as of ``as_of``."""

    serializer_class = BalanceDetailOutputSerializer

    @extend_schema(operation_id="customers_balance_retrieve", parameters=[AS_OF])
    def get(self, request, external_id: str):
        as_of = as_of_param(request)
        customer = customer_get(external_id=external_id)
        balance = selectors.customer_balance(customer=customer, as_of=as_of)
        return Response(BalanceDetailOutputSerializer(balance).data)
