"""The admin's portfolio page: PAR, buckets and a 12-week PAR trend, as server-side SVG.

Staff only (``admin.site.admin_view``), linked from the admin index. The
figures are those of ``GET /api/portfolio`` (the same selector), as of the
``as_of`` the page's date picker sends (default today).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from billing.portfolio import PAR_DAYS
from loans import portfolio
from mo_loans.svg_charts import bar_chart, line_chart

TREND_WEEKS = 12

# The index page carries a link to this one (templates/admin/mo_loans_index.html).
admin.site.index_template = "admin/mo_loans_index.html"


class AsOfForm(forms.Form):
    as_of = forms.DateField(required=False, input_formats=["%Y-%m-%d"])


def _percent(ratio: str) -> str:
    return f"{Decimal(ratio) * 100:.2f}%"


def portfolio_trend(*, as_of: date, weeks: int = TREND_WEEKS) -> list:
    """The as-of figures at ``as_of`` and each of the ``weeks - 1`` weeks before, oldest first.

    The trend shows PAR and active loans only: the weeks before ``as_of`` are
    computed without counting delinquent customers (one parallel pass); ``as_of``
    itself, the page's own figures, in full.
    """
    earlier = [as_of - timedelta(weeks=back) for back in range(weeks - 1, 0, -1)]
    weeks_before = (
        portfolio.portfolio_as_of_dates(dates=earlier, count_customers=False) if earlier else []
    )
    return [*weeks_before, portfolio.portfolio_as_of(as_of=as_of)]


def portfolio_page(request: HttpRequest) -> HttpResponse:
    form = AsOfForm(request.GET or None)
    as_of = portfolio.today()
    if form.is_valid() and form.cleaned_data["as_of"]:
        as_of = form.cleaned_data["as_of"]
    trend = portfolio_trend(as_of=as_of)
    figures = trend[-1]
    par_chart = bar_chart(
        title=f"PAR as of {as_of}",
        bars=[
            (f"PAR{days}", Decimal(figures.par[str(days)]), _percent(figures.par[str(days)]))
            for days in PAR_DAYS
        ],
        maximum=max([Decimal("0.05"), *(Decimal(v) for v in figures.par.values())]),
    )
    bucket_chart = bar_chart(
        title=f"Outstanding principal by days-past-due bucket as of {as_of}",
        bars=[
            (b.bucket, b.outstanding_principal, f"{b.outstanding_principal:,.2f}")
            for b in figures.buckets
        ],
        width=560,
    )
    trend_chart = line_chart(
        title=f"PAR over the {TREND_WEEKS} weeks to {as_of}",
        labels=[f.as_of.strftime("%d %b") for f in trend],
        series=[(f"PAR{days}", [Decimal(f.par[str(days)]) for f in trend]) for days in PAR_DAYS],
    )
    context = {
        **admin.site.each_context(request),
        "title": "Portfolio risk",
        "form": form,
        "as_of": as_of,
        "figures": figures,
        "par": [
            (str(days), figures.par[str(days)], _percent(figures.par[str(days)]))
            for days in PAR_DAYS
        ],
        "trend": trend,
        "par_chart": par_chart,
        "bucket_chart": bucket_chart,
        "trend_chart": trend_chart,
    }
    return TemplateResponse(request, "admin/portfolio.html", context)
