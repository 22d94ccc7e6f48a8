"""The project's URLs plus a view that fails, to see what a 500 carries."""

from django.urls import path

from mo_loans.urls import handler400, handler403, handler404, handler500, urlpatterns


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [*urlpatterns, path("ops-test/boom", boom, name="ops-boom")]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
