"""Django settings for MO Loans.

Every value comes from the environment or ``settings.ini`` through
python-decouple; ``settings.ini.example`` lists them all.
"""

from decimal import Decimal
from pathlib import Path

from decouple import Csv, config

from mo_loans.api.schema_docs import API_DESCRIPTION
from mo_loans.dbconfig import database_settings
from mo_loans.logging_json import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = config("SECRET_KEY", default="insecure-dev-key-change-me-in-production")
DEBUG = config("DEBUG", default=False, cast=bool)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", default="127.0.0.1,localhost,testserver", cast=Csv())

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc files, served from here: no CDN
    "django_prometheus",
    "mo_loans",
    "customers",
    "loans",
    "payments",
]

MIDDLEWARE = [
    "mo_loans.api.middleware.TrailingSlashMiddleware",
    "mo_loans.observability.middleware.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mo_loans.api.idempotency.IdempotencyMiddleware",
    "mo_loans.observability.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "mo_loans.urls"
WSGI_APPLICATION = "mo_loans.wsgi.application"
# Never redirect a client's request to add a slash: /api/ routes answer both ways.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_settings(
        name=config("DATABASE_NAME", default="mo_loans"),
        user=config("DATABASE_USER", default="postgres"),
        password=config("DATABASE_PASSWORD", default=""),
        host=config("DATABASE_HOST", default=""),
        port=config("DATABASE_PORT", default="5432"),
        embedded_data_dir=BASE_DIR / config("EMBEDDED_DB_DIR", default=".pgdata"),
        conn_max_age=config("DATABASE_CONN_MAX_AGE", default=60, cast=int),
        # A request never waits minutes on a lock or a statement (docs/operations.md).
        lock_timeout_ms=config("DATABASE_LOCK_TIMEOUT_MS", default=5000, cast=int),
        statement_timeout_ms=config("DATABASE_STATEMENT_TIMEOUT_MS", default=30000, cast=int),
        client_check_interval_ms=config(
            "DATABASE_CLIENT_CHECK_INTERVAL_MS", default=1000, cast=int
        ),
    )
}
# The same backend, wrapped by django-prometheus to time every query (docs/operations.md).
DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
# True behind PgBouncer in transaction mode: .iterator() cursors cannot outlive a transaction.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = config(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False, cast=bool
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = config("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the admin's and Swagger UI's static files straight from the
# installed apps; an image sets STATIC_ROOT and runs collectstatic instead.
STATIC_ROOT = config("STATIC_ROOT", default=None)
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

# A request body larger than this is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = config("MAX_REQUEST_BYTES", default=10 * 1024 * 1024, cast=int)

REST_FRAMEWORK = {
    # Names the Api-Key scheme so that a request without a valid key is 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": ["mo_loans.api.auth.ApiKeyChallenge"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework_api_key.permissions.HasAPIKey"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PARSER_CLASSES": ["mo_loans.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["mo_loans.api.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "mo_loans.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["mo_loans.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mo_loans.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MO Loans API",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # /api/docs/ and /api/redoc/ load their JavaScript and CSS from this server
    # (drf-spectacular-sidecar, through WhiteNoise), so they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator badge: it would send the schema URL to a third party.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # The ApiKeyAuth security scheme comes from mo_loans.api.auth.ApiKeyChallengeScheme.
    "COMPONENT_SPLIT_REQUEST": True,
    # Docstrings are for developers; what a client reads is in mo_loans/api/schema_docs.py.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
    # Error answers, precise pagination parameters, Idempotency-Key and links.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mo_loans.api.schema.postprocess_schema",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatus": "customers.models.Customer.Status",
        "LoanStatus": "loans.models.Loan.Status",
        "PaymentStatus": "payments.models.Payment.Status",
        "InstallmentStatus": "loans.serializers.INSTALLMENT_STATUSES",
        "TransactionType": "loans.serializers.TRANSACTION_TYPES",
    },
}

# Billing defaults (docs/billing.md).
BILLING_DEFAULT_INTEREST_RATE = config(
    "BILLING_DEFAULT_INTEREST_RATE", default="0.10", cast=Decimal
)
BILLING_DEFAULT_TERM_WEEKS = config("BILLING_DEFAULT_TERM_WEEKS", default=50, cast=int)

# How long an Idempotency-Key's first response is kept (at least 24 hours, docs/api.md).
IDEMPOTENCY_KEY_TTL_HOURS = config("IDEMPOTENCY_KEY_TTL_HOURS", default=24, cast=int)

# Logs and metrics (docs/operations.md).
LOG_LEVEL = config("LOG_LEVEL", default="INFO")
LOG_FORMAT = config("LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
# GET /metrics: cluster-internal, no API key. False removes the route.
METRICS_ENABLED = config("METRICS_ENABLED", default=True, cast=bool)
# Portfolio gauges: seconds a process reuses its last answer; query time limit.
METRICS_PORTFOLIO_TTL = config("METRICS_PORTFOLIO_TTL", default=30, cast=int)
METRICS_PORTFOLIO_TIMEOUT_MS = config("METRICS_PORTFOLIO_TIMEOUT_MS", default=5000, cast=int)
