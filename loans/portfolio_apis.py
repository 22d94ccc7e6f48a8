"""``GET /api/portfolio`` and ``GET /api/loans/{id}/delinquency``. Thin: parse, select, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from loans import portfolio, selectors
from loans.apis import CLOCK, clock_params
from loans.models import Loan
from loans.portfolio_serializers import (
    ArrearsPeriodSerializer,
    PortfolioOutputSerializer,
    PortfolioQuerySerializer,
)
from mo_loans.api.views_base import parse


class PortfolioApi(GenericAPIView):
    """Portfolio risk as of `as_of`: buckets, PAR, delinquency; with `from`/`to`, collection."""

    serializer_class = PortfolioOutputSerializer
    pagination_class = None

    @extend_schema(operation_id="portfolio_retrieve", parameters=[PortfolioQuerySerializer])
    def get(self, request):
        query = parse(PortfolioQuerySerializer, request.query_params.dict())
        answer = portfolio.portfolio_get(
            as_of=query["as_of"],
            period_from=query.get("from"),
            period_to=query.get("to"),
            known_at=query.get("known_at"),
        )
        return Response(PortfolioOutputSerializer(answer).data)


class LoanDelinquencyApi(GenericAPIView):
    """The loan's arrears history up to `as_of`: every period in which it had missed
    instalments (not paginated)."""

    serializer_class = ArrearsPeriodSerializer
    pagination_class = None
    queryset = Loan.objects.none()  # tells the schema what {external_id} is

    @extend_schema(
        operation_id="loans_delinquency",
        parameters=CLOCK,
        responses=ArrearsPeriodSerializer(many=True),
    )
    def get(self, request, external_id: str):
        clock = clock_params(request)
        loan = selectors.loan_get(external_id=external_id, known_at=clock["known_at"])
        periods = portfolio.loan_arrears(loan=loan, **clock)
        return Response(ArrearsPeriodSerializer(periods, many=True).data)
