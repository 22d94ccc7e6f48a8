"""``GET /api/portfolio`` and ``GET /api/loans/{id}/delinquency``. Thin: parse, select, render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from billing.portfolio import CollectionFigures, PortfolioFigures
from loans import portfolio, selectors
from loans.apis import AS_OF, as_of_param
from loans.models import Loan
from loans.portfolio_serializers import (
    ArrearsPeriodSerializer,
    PortfolioOutputSerializer,
    PortfolioQuerySerializer,
)
from mo_loans.api.errors import InvalidInputError
from mo_loans.api.views_base import parse

MAX_PERIOD_YEARS = 3


@dataclass(frozen=True)
class PortfolioAnswer:
    figures: PortfolioFigures
    period_from: date | None = None
    period_to: date | None = None
    collection: CollectionFigures | None = None

    def __getattr__(self, name):  # the figures' fields, for the serializer
        return getattr(self.figures, name)


def _years_later(day: date, years: int) -> date | None:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February, or past year 9999
        try:
            return date(day.year + years, 3, 1)
        except ValueError:
            return None


def _invalid_period(message: str, field: str, code: str = "invalid_period") -> InvalidInputError:
    return InvalidInputError(message, code=code, fields={field: [message]})


def period_check(*, period_from: date | None, period_to: date | None, as_of: date) -> None:
    """Both or neither; ``from`` ≤ ``to`` ≤ ``as_of``; ``to`` before ``from`` + 3 years."""
    if period_from is None and period_to is None:
        return
    if period_from is None or period_to is None:
        missing = "from" if period_from is None else "to"
        raise _invalid_period("A period needs both `from` and `to`.", missing)
    if period_from > period_to:
        raise _invalid_period(f"`from` ({period_from}) is after `to` ({period_to}).", "from")
    limit = _years_later(period_from, MAX_PERIOD_YEARS)
    if limit is not None and period_to >= limit:
        raise _invalid_period(
            f"A period may be at most {MAX_PERIOD_YEARS} years long: with `from` {period_from}, "
            f"`to` must be before {limit}.",
            "to",
            code="period_too_long",
        )
    if period_to > as_of:
        raise _invalid_period(
            f"`to` ({period_to}) is after `as_of` ({as_of}): a period must have ended by then.",
            "to",
            code="period_after_as_of",
        )


def portfolio_answer(
    *, as_of: date, period_from: date | None = None, period_to: date | None = None
) -> PortfolioAnswer:
    period_check(period_from=period_from, period_to=period_to, as_of=as_of)
    figures = portfolio.portfolio_as_of(as_of=as_of)
    if period_from is None or period_to is None:
        return PortfolioAnswer(figures)
    collection = portfolio.portfolio_collection(
        period_from=period_from, period_to=period_to, as_of=as_of
    )
    return PortfolioAnswer(figures, period_from, period_to, collection)


class PortfolioApi(GenericAPIView):
    """Portfolio risk as of `as_of`: buckets, PAR, delinquency; with `from`/`to`, collection."""

    serializer_class = PortfolioOutputSerializer
    pagination_class = None

    @extend_schema(operation_id="portfolio_retrieve", parameters=[PortfolioQuerySerializer])
    def get(self, request):
        query = parse(PortfolioQuerySerializer, request.query_params.dict())
        answer = portfolio_answer(
            as_of=query.get("as_of") or portfolio.today(),
            period_from=query.get("from"),
            period_to=query.get("to"),
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
        parameters=[AS_OF],
        responses=ArrearsPeriodSerializer(many=True),
    )
    def get(self, request, external_id: str):
        as_of = as_of_param(request)
        loan = selectors.loan_get(external_id=external_id)
        periods = portfolio.loan_arrears(loan=loan, as_of=as_of)
        return Response(ArrearsPeriodSerializer(periods, many=True).data)
