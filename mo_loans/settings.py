"""Django settings for MO Loans.

Every value comes from the environment or ``settings.ini`` through
python-decouple; ``settings.ini.example`` lists them all.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from decouple import Csv, config
from django.core.exceptions import ImproperlyConfigured

from billing.buckets import DEFAULT_BUCKETS, BucketConfigError, parse_buckets
from mo_loans import ids
from mo_loans.api.schema_docs import API_DESCRIPTION
from mo_loans.dbconfig import database_settings, replica_settings
from mo_loans.logging_json import logging_config
from mo_loans.settings_checks import checkout_secret_key, secret_key_check

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = config("DEBUG", default=False, cast=bool)
# No built-in default. Only a checkout on the embedded database (no DATABASE_HOST)
# makes its own random key, kept in the git-ignored .secret_key.
SECRET_KEY = config("SECRET_KEY", default="")
if not SECRET_KEY and not config("DATABASE_HOST", default=""):
    SECRET_KEY = checkout_secret_key(BASE_DIR / ".secret_key")
secret_key_check(key=SECRET_KEY, debug=DEBUG)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", default="127.0.0.1,localhost,testserver", cast=Csv())

# --- HTTPS (docs/operations.md, "Security settings") ---------------------------
# HTTPS=True: clients reach the service over HTTPS through a proxy that ends TLS
# and sets X-Forwarded-Proto. It turns on the settings below, each of which can
# also be set on its own. `manage.py check --deploy` is clean with it.
HTTPS = config("HTTPS", default=False, cast=bool)
if config("SECURE_PROXY_SSL_HEADER", default=HTTPS, cast=bool):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = config("SECURE_SSL_REDIRECT", default=HTTPS, cast=bool)
# Probes and Prometheus talk plain HTTP to the pod: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$", r"^metrics/?$"]
SESSION_COOKIE_SECURE = config("SESSION_COOKIE_SECURE", default=HTTPS, cast=bool)
CSRF_COOKIE_SECURE = config("CSRF_COOKIE_SECURE", default=HTTPS, cast=bool)
SECURE_HSTS_SECONDS = config("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0, cast=int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = config("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS, cast=bool)
SECURE_HSTS_PRELOAD = config("SECURE_HSTS_PRELOAD", default=HTTPS, cast=bool)
CSRF_TRUSTED_ORIGINS = config("CSRF_TRUSTED_ORIGINS", default="", cast=Csv())

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
    "axes",
    "mo_loans",
    "customers",
    "loans",
    "payments",
]

MIDDLEWARE = [
    "mo_loans.observability.middleware.RequestIdMiddleware",
    "mo_loans.observability.views.MetricsPortMiddleware",
    # After the two above, so that its own 404 (an encoded '/') is counted and has an id.
    "mo_loans.api.middleware.TrailingSlashMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mo_loans.api.middleware.LazyMessageMiddleware",  # Django's, storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mo_loans.api.idempotency.IdempotencyMiddleware",
    # GET/HEAD under /api/ may read from the replica (mo_loans.db_router); inside the
    # request id's timing and count, so that a request it runs again on the primary is
    # counted once.
    "mo_loans.api.replica_reads.ReplicaReadsMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login with 429.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
        # Room for the portfolio's hashes of a row per loan (docs/operations.md).
        work_mem_mb=config("DATABASE_WORK_MEM_MB", default=64, cast=int),
        # The role `manage.py migrate` connects as (mo_loans.dbroles); the API
        # itself connects as DATABASE_USER, which owns nothing. Empty: the same.
        owner_user=config("DATABASE_OWNER_USER", default=""),
        owner_password=config("DATABASE_OWNER_PASSWORD", default=""),
    )
}
# PostgreSQL through django-prometheus (every query timed, docs/operations.md), with the
# per-request health check and date-time reads made cheap (mo_loans/db_backend/base.py).
DATABASES["default"]["ENGINE"] = "mo_loans.db_backend"
# True behind PgBouncer in transaction mode: .iterator() cursors cannot outlive a transaction.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = config(
    "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False, cast=bool
)
# --- read replica (docs/operations.md, "Read replica") ----------------------------
# A streaming replica of the primary: reads that write nothing go there while it is
# at most DATABASE_REPLICA_MAX_LAG_SECONDS behind (mo_loans.db_router). Unset: none.
DATABASE_REPLICA_HOST = config("DATABASE_REPLICA_HOST", default="")
if DATABASE_REPLICA_HOST:
    DATABASES["replica"] = replica_settings(
        DATABASES["default"],
        host=DATABASE_REPLICA_HOST,
        port=config("DATABASE_REPLICA_PORT", default=DATABASES["default"]["PORT"]),
        # Another name only behind a pooler that names the replica's pool apart.
        name=config("DATABASE_REPLICA_NAME", default=DATABASES["default"]["NAME"]),
        user=config("DATABASE_REPLICA_USER", default=DATABASES["default"]["USER"]),
        password=config("DATABASE_REPLICA_PASSWORD", default=DATABASES["default"]["PASSWORD"]),
        connect_timeout=config("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2, cast=int),
    )
DATABASE_ROUTERS = ["mo_loans.db_router.ReplicaRouter"]
DATABASE_REPLICA_MAX_LAG_SECONDS = config("DATABASE_REPLICA_MAX_LAG_SECONDS", default=2, cast=float)
# Seconds a process reuses its last look at the replica's lag; after a failure, the wait
# before it tries the replica again.
DATABASE_REPLICA_CHECK_SECONDS = config("DATABASE_REPLICA_CHECK_SECONDS", default=1, cast=float)
DATABASE_REPLICA_RETRY_SECONDS = config("DATABASE_REPLICA_RETRY_SECONDS", default=10, cast=float)
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
    # HasAPIKey, and 429 for an address with too many failed keys (mo_loans.api.throttling).
    "DEFAULT_PERMISSION_CLASSES": ["mo_loans.api.throttling.HasAPIKeyOrThrottled"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PARSER_CLASSES": ["mo_loans.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["mo_loans.api.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "mo_loans.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["mo_loans.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "mo_loans.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "mo_loans.api.exception_handlers.exception_handler",
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
    # Named enums, client-facing texts, page examples and links (mo_loans.api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mo_loans.api.schema.postprocess_schema",
    ],
    # By name, with the Idempotency-Key header last.
    "SORT_OPERATION_PARAMETERS": "mo_loans.api.schema.parameter_order",
    # /api/…/{external_id} path parameters: the id alphabet (mo_loans.ids).
    "PATH_CONVERTER_OVERRIDES": {
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": ids.MAX_LENGTH,
            "pattern": ids.DB_PATTERN,
        }
    },
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatus": "customers.models.Customer.Status",
        "LoanStatus": "loans.models.Loan.Status",
        "PaymentStatus": "payments.models.Payment.Status",
        "InstallmentStatus": "loans.serializers.INSTALLMENT_STATUSES",
        "TransactionType": "loans.serializers.TRANSACTION_TYPES",
    },
}

# --- failed authentication (mo_loans.api.throttling) -------------------------------
# How many of the right-most X-Forwarded-For entries our own proxies add (1 behind
# the Ingress); 0 trusts none and counts the peer address.
TRUSTED_PROXY_COUNT = config("TRUSTED_PROXY_COUNT", default=0, cast=int)
# Seconds a worker remembers an API key it found valid: a revoked key keeps working
# for at most this long (mo_loans.api.api_keys). 0: check every call in the database.
API_KEY_CACHE_SECONDS = config("API_KEY_CACHE_SECONDS", default=10, cast=float)
# Failed API keys per client address before its calls are 429 ("10/min", "100/hour").
AUTH_FAILURE_RATE = config("AUTH_FAILURE_RATE", default="10/min")
# The admin login (django-axes): failures per address, then locked for the cool-off.
AXES_FAILURE_LIMIT = config("ADMIN_LOGIN_FAILURE_LIMIT", default=5, cast=int)
AXES_COOLOFF_TIME = timedelta(minutes=config("ADMIN_LOGIN_COOLOFF_MINUTES", default=15, cast=int))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "mo_loans.api.throttling.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Billing defaults (docs/billing.md).
BILLING_DEFAULT_INTEREST_RATE = config(
    "BILLING_DEFAULT_INTEREST_RATE", default="0.10", cast=Decimal
)
BILLING_DEFAULT_TERM_WEEKS = config("BILLING_DEFAULT_TERM_WEEKS", default=50, cast=int)
# Days-past-due buckets of the portfolio figures (docs/billing.md); checked here, so a
# bad value stops every command and the server at start-up with a message naming it.
BILLING_DPD_BUCKETS = config("BILLING_DPD_BUCKETS", default=DEFAULT_BUCKETS)
# A day is closed (loans/closing.py) as the ledger stood this many seconds before,
# so that every write recorded by then has committed.
PORTFOLIO_CLOSE_SETTLE_SECONDS = config("PORTFOLIO_CLOSE_SETTLE_SECONDS", default=60, cast=int)
try:
    parse_buckets(BILLING_DPD_BUCKETS)
except BucketConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# How long an Idempotency-Key's first response is kept (at least 24 hours, docs/api.md).
IDEMPOTENCY_KEY_TTL_HOURS = config("IDEMPOTENCY_KEY_TTL_HOURS", default=24, cast=int)

# Logs and metrics (docs/operations.md).
LOG_LEVEL = config("LOG_LEVEL", default="INFO")
LOG_FORMAT = config("LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
# GET /metrics (mo_loans.observability.views). False removes the route.
METRICS_ENABLED = config("METRICS_ENABLED", default=True, cast=bool)
# Set: /metrics answers on the API port (and the metrics port) only to
# "Authorization: Bearer <token>". Unset: not served on the API port at all.
METRICS_TOKEN = config("METRICS_TOKEN", default="")
# A second listener that serves /metrics only (gunicorn.conf.py binds it on
# METRICS_BIND). 0: none.
METRICS_PORT = config("METRICS_PORT", default=0, cast=int)
# Portfolio gauges: seconds a process reuses its last answer; query time limit.
METRICS_PORTFOLIO_TTL = config("METRICS_PORTFOLIO_TTL", default=30, cast=int)
METRICS_PORTFOLIO_TIMEOUT_MS = config("METRICS_PORTFOLIO_TIMEOUT_MS", default=5000, cast=int)
# PAR30 above this ratio fires the MoLoansPar30High alert (exported as a gauge).
METRICS_PAR30_ALERT_THRESHOLD = config(
    "METRICS_PAR30_ALERT_THRESHOLD", default="0.10", cast=Decimal
)
