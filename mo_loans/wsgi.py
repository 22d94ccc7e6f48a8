"""WSGI entry point: ``gunicorn mo_loans.wsgi``.

``MO_LOANS_BARE_PING=1`` (set by ``make bench-http``, never in production) adds
``GET /bare/healthz``: the same ``healthz`` view served through Django with
none of ``settings.MIDDLEWARE``, in the same process, so the benchmark can
price the project's middleware against the ping route beside it.
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mo_loans.settings")

BARE_PING_PATH = "/bare/healthz"


class BareHandler(WSGIHandler):
    """Django's WSGI handler without any middleware: URL resolving, the view, the response."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


def with_bare_ping(app, bare):
    def application(environ, start_response):
        if environ.get("PATH_INFO") == BARE_PING_PATH:
            environ["PATH_INFO"] = "/healthz"
            return bare(environ, start_response)
        return app(environ, start_response)

    return application


application = get_wsgi_application()
if os.environ.get("MO_LOANS_BARE_PING") == "1":
    application = with_bare_ping(application, BareHandler())
