"""``GET``/``HEAD`` under ``/api/`` read from the replica when it is fresh enough.

The routing rules are :mod:`mo_loans.db_router`'s. This middleware opens the
request's read scope: it is what marks a request read-only. A ``GET`` writes
nothing (every write is a ``POST``), and should one ever write, its reads from
then on go to the primary anyway. A ``known_at`` in the query string is the
instant the answer is about; an invalid one reads on the primary (the view
answers 400).

Should the replica's connection break during the request, the request is run
once more, on the primary only: a ``GET`` changes nothing, so running it twice
is safe, and the client never sees the replica's outage.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ValidationError

from mo_loans.api.serializers import BoundedDateTimeField
from mo_loans.db_router import replica_configured, replica_failed, replica_reads

READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


class ReplicaReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in READ_ONLY_METHODS
            or not request.path_info.startswith("/api/")
            or not replica_configured()
        ):
            return self.get_response(request)
        raw = request.GET.get("known_at")
        try:
            known_at = None if raw is None else BoundedDateTimeField().run_validation(raw)
        except ValidationError:
            return self.get_response(request)
        with replica_reads(known_at=known_at) as scope:
            response = self.get_response(request)
        if replica_failed(scope):
            return self.get_response(request)
        return response
