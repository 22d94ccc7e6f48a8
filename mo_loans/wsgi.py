"""WSGI entry point: ``gunicorn mo_loans.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mo_loans.settings")

application = get_wsgi_application()
