"""The project's URLs plus a view that fails, to see what a 500 carries."""

from django.urls import path
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from mo_loans.urls import handler400, handler403, handler404, handler500, urlpatterns


def boom(request):
    raise RuntimeError("boom")


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def api_boom(request):
    raise RuntimeError("api boom")


urlpatterns = [
    *urlpatterns,
    path("ops-test/boom", boom, name="ops-boom"),
    path("ops-test/api-boom", api_boom, name="ops-api-boom"),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
