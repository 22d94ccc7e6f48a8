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
    LoanStateOutputSerializer,
    TransactionOutputSerializer,
)
from mo_loans.api.serializers import YEAR_PATTERN, AsOfQuerySerializer
from mo_loans.api.views_base import ListApi, parse

AS_OF = OpenApiParameter(
    "as_of",
    OpenApiTypes.DATE,
    description="Value time: the answer at the end of this local date (default: today).",
)
KNOWN_AT = OpenApiParameter(
    "known_at",
    {"type": "string", "format": "date-time", "pattern": YEAR_PATTERN},
    description=(
        "Recording time: the answer as the service would have given it at this instant "
        "(ISO 8601; default: now; never in the future)."
    ),
)
CLOCK = [AS_OF, KNOWN_AT]


def clock_params(request, *, only_clock: bool = True) -> dict:
    """``as_of`` and ``known_at`` from the query string (each None when absent).

    A list also takes its filters and pages, which its filter set checks.
    """
    query = request.query_params.dict()
    if not only_clock:
        query = {name: query[name] for name in ("as_of", "known_at") if name in query}
    data = parse(AsOfQuerySerializer, query, partial=False)
    return {"as_of": data.get("as_of"), "known_at": data.get("known_at")}


def known_at_param(request):
    return clock_params(request)["known_at"]


def loan_detail_response(
    loan, *, as_of=None, known_at=None, status_code=status.HTTP_200_OK
) -> Response:
    shown = selectors.loan_view(loan=loan, as_of=as_of, known_at=known_at)
    return Response(LoanDetailOutputSerializer(shown).data, status=status_code)


class LoanListApi(ListApi):
    """A loan list; ``?include=state`` adds each loan's billing state at the list's clock.

    The state of a whole page costs at most one more query (what the page's
    loans had been paid, for a past ``as_of`` or a ``known_at``), whatever
    the page size.
    """

    def list_response(self, request, queryset=None):
        queryset = self.filter_queryset(self.get_queryset() if queryset is None else queryset)
        page = self.paginate_queryset(queryset)
        if request.query_params.get("include") == "state":
            clock = clock_params(request, only_clock=False)
            page = selectors.loan_views(loans=page, **clock)
            return self.get_paginated_response(LoanStateOutputSerializer(page, many=True).data)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class LoanListCreateApi(LoanListApi):
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

    @extend_schema(operation_id="loans_retrieve", parameters=CLOCK)
    def get(self, request, external_id: str):
        clock = clock_params(request)
        loan = selectors.loan_get(external_id=external_id, known_at=clock["known_at"])
        return loan_detail_response(loan, **clock)


class LoanScheduleApi(GenericAPIView):
    """Every instalment of a loan with what was paid to it as of ``as_of`` (not paginated)."""

    serializer_class = InstallmentOutputSerializer
    pagination_class = None
    queryset = Loan.objects.none()  # tells the schema what {external_id} is

    @extend_schema(
        operation_id="loans_schedule",
        parameters=CLOCK,
        responses=InstallmentOutputSerializer(many=True),
    )
    def get(self, request, external_id: str):
        clock = clock_params(request)
        loan = selectors.loan_get(external_id=external_id, known_at=clock["known_at"])
        rows = selectors.loan_schedule(loan=loan, **clock)
        return Response(InstallmentOutputSerializer(rows, many=True).data)


class LoanTransactionsApi(GenericAPIView):
    """The loan's statement: its activation, then every payment to it in value order."""

    serializer_class = TransactionOutputSerializer
    pagination_class = None
    queryset = Loan.objects.none()

    @extend_schema(
        operation_id="loans_transactions",
        parameters=[KNOWN_AT],
        responses=TransactionOutputSerializer(many=True),
    )
    def get(self, request, external_id: str):
        known_at = known_at_param(request)
        loan = selectors.loan_get(external_id=external_id, known_at=known_at)
        lines = selectors.loan_transactions(loan=loan, known_at=known_at)
        return Response(TransactionOutputSerializer(lines, many=True).data)


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


class CustomerLoanListApi(LoanListApi):
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
    """Every customer's balance, as of ``as_of`` and as known at ``known_at`` (default: now)."""

    serializer_class = BalanceOutputSerializer
    filterset_class = BalanceFilter

    def get_queryset(self):
        return selectors.customer_balance_list()

    @extend_schema(
        operation_id="customers_balance_list",
        parameters=CLOCK,
        responses=BalanceOutputSerializer(many=True),
    )
    def get(self, request):
        clock = clock_params(request, only_clock=False)
        return self.list_response(request, selectors.customer_balance_list(**clock))


class BalanceDetailApi(GenericAPIView):
    """One customer's balance and delinquency as of ``as_of``."""

    serializer_class = BalanceDetailOutputSerializer

    @extend_schema(operation_id="customers_balance_retrieve", parameters=CLOCK)
    def get(self, request, external_id: str):
        balance = selectors.customer_balance_of(external_id=external_id, **clock_params(request))
        return Response(BalanceDetailOutputSerializer(balance).data)
