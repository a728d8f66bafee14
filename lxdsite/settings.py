"""Settings for lxdsite.

Like LXD, lxdsite keeps its state under ``LXD_DIR``: the SQLite database, and later the
image files. ``DATABASE_URL`` selects another database (PostgreSQL for scale-out).
"""

import os
from pathlib import Path

import dj_database_url

from .secret_key import stored_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
LXD_DIR = Path(os.environ.get("LXD_DIR") or BASE_DIR / "var").resolve()

# LXDSITE_SECRET_KEY, or one generated once and kept in LXD_DIR/secret.key (mode 0600).
SECRET_KEY = os.environ.get("LXDSITE_SECRET_KEY") or stored_secret_key(LXD_DIR)
DEBUG = os.environ.get("LXDSITE_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and Redoc served from static files: the API docs work offline.
    "drf_spectacular_sidecar",
    "resources",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's MessageMiddleware, building its storage only when the admin uses it.
    "resources.middleware.LazyMessageMiddleware",
    # A database that cannot be reached answers LXD's 503 envelope, also outside DRF.
    "resources.exceptions.DatabaseUnavailableMiddleware",
    # X-Frame-Options: DENY: the admin and the browsable API are never framed by another site.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lxdsite.urls"
# LXD answers a trailing slash with 404, never a redirect.
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

WSGI_APPLICATION = "lxdsite.wsgi.application"

# SQLite: every transaction takes the write lock at BEGIN IMMEDIATE, so a locked
# check-then-write cannot interleave with another writer; WAL lets readers go on.
SQLITE_DATABASE = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": LXD_DIR / "lxdsite.sqlite3",
    # Keep each worker thread's connection: opening one per request costs a third of a GET.
    "CONN_MAX_AGE": 600,
    "OPTIONS": {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    },
}
DATABASES = {
    "default": dj_database_url.config(conn_max_age=600, conn_health_checks=True)
    if os.environ.get("DATABASE_URL")
    else SQLITE_DATABASE
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the admin's and DRF's files straight from the installed apps.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "resources.envelope.LXDJSONRenderer",
        # DRF's browsable API; its forms write with If-Match (the ETag the page showed).
        "resources.browsable.LXDBrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["resources.envelope.LXDJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "resources.envelope.LXDContentNegotiation",
    "EXCEPTION_HANDLER": "resources.exceptions.lxd_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "resources.schema.LXDAutoSchema",
    # Trust comes from the listener (unix socket), an API token or a staff session (with
    # CSRF checks on writes): see resources/trust.py.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "resources.trust.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["resources.trust.LXDTrust"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "lxdsite",
    "DESCRIPTION": """An LXD-compatible REST API served from a database: `lxc` and pylxd work against it unchanged.

**Trying it here.** On a TCP listener, log in as staff at [/admin/](/admin/) (this page then uses that
session), or press *Authorize* and give an API token (`manage.py createtoken <name>`). The unix socket
is trusted, as LXD's is. The same URLs open in a browser as pages with forms ([/1.0](/1.0)).

**Answers.** Every answer is LXD's envelope: `SyncResponse` with the data in `metadata`,
`AsyncResponse` (202) with the `operation` to follow, `ErrorResponse` with LXD's error text.

**Versions.** Objects and lists carry an `ETag`. Send it back as `If-Match` on PUT, PATCH, DELETE or a
rename to write only over the version you read (else 412), or as `If-None-Match` on a GET (304).
""",
    "VERSION": "1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would send the schema to swagger.io's online validator for its badge.
    # The sections open collapsed: Swagger UI never finishes rendering all 140-odd operations open.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "docExpansion": "none"},
    # Swagger UI's sections, in the order of LXD's documentation (resources.schema.LXDAutoSchema.get_tags).
    "TAGS": [
        {"name": "server", "description": "`/1.0`: the server's configuration and environment."},
        {"name": "instances", "description": "Instances, their state and snapshots."},
        {"name": "containers", "description": "The instances under LXD's older name (`lxc` 4 and pylxd use it)."},
        {"name": "images", "description": "Images and their aliases; uploads and exports of image files."},
        {"name": "networks", "description": "Networks: managed networks (recorded, no interface made) and the host's."},
        {"name": "network-acls", "description": "Network ACLs: rules for networks and NICs (recorded, not applied)."},
        {"name": "network-zones", "description": "Network zones: DNS zones networks name (recorded, not served)."},
        {"name": "profiles", "description": "Profiles: configuration and devices instances take."},
        {"name": "projects", "description": "Projects: separate sets of instances, profiles and images (`?project=`)."},
        {"name": "storage-pools", "description": "Storage pools and their volumes (recorded: no disks behind them)."},
        {"name": "operations", "description": "Background operations: what an async answer follows."},
        {"name": "certificates", "description": "The trust store: the TLS client certificates the server trusts."},
        {"name": "events", "description": "The event stream (a WebSocket)."},
    ],
    # /1.0/events is a WebSocket served by a plain Django view: documented by a hook.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "resources.schema.document_events"],
}

# lxdsite's own records go to stderr, which `serve` passes on: a 500's traceback and request
# line (resources.exceptions.log_server_error), an unreachable database, a failing events feed.
# Django logs every 4xx answer as a warning; to LXD clients a 404 or a 412 is a routine answer,
# and building each record was 5% of a refused write.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # gunicorn's own lines look the same.
    "formatters": {
        "lxdsite": {
            "format": "[{asctime}] [{process}] [{levelname}] {name}: {message}",
            "datefmt": "%Y-%m-%d %H:%M:%S %z",
            "style": "{",
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "lxdsite"}},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "resources": {"handlers": ["stderr"], "level": "WARNING"},
    },
}

# Each worker keeps encoded GET answers up to this many MiB until the database changes
# (resources/response_cache.py); 0 turns that off.
LXDSITE_RESPONSE_CACHE_MB = int(os.environ.get("LXDSITE_RESPONSE_CACHE_MB") or 64)

# Request bodies above this many bytes answer 413 (image uploads stream and are exempt).
LXDSITE_MAX_BODY_SIZE = int(os.environ.get("LXDSITE_MAX_BODY_SIZE") or 4 * 1024 * 1024)

# PUT, PATCH, DELETE and rename without If-Match answer 428 when this is set.
LXDSITE_REQUIRE_IF_MATCH = os.environ.get("LXDSITE_REQUIRE_IF_MATCH") == "1"

# Image files, as LXD keeps them: LXD_DIR/images/<fingerprint> (and <fingerprint>.rootfs for split images).
LXDSITE_IMAGES_DIR = Path(os.environ.get("LXDSITE_IMAGES_DIR") or LXD_DIR / "images").resolve()
# Instances' and snapshots' files (resources/instance_files/): LXD_DIR/instance-files/i<id>, s<id>.
LXDSITE_INSTANCE_FILES_DIR = Path(os.environ.get("LXDSITE_INSTANCE_FILES_DIR") or LXD_DIR / "instance-files").resolve()
# The bytes an instance's files may hold when its root disk sets no ``size`` (default 1 GiB).
LXDSITE_INSTANCE_FILES_MAX = int(os.environ.get("LXDSITE_INSTANCE_FILES_MAX") or 1 << 30)
# The certificate the HTTPS listeners present (``serve --tls-cert``); None: LXD_DIR/server.crt.
LXDSITE_TLS_CERT = None
# The addresses the HTTPS listeners serve (``serve --https``), which certificate add tokens name.
LXDSITE_HTTPS_ADDRESSES = []

# Finished operations disappear this many seconds after they end (LXD: 5).
LXDSITE_OPERATION_EXPIRY = float(os.environ.get("LXDSITE_OPERATION_EXPIRY") or 5)

# /1.0/events across worker processes: Redis pub/sub when this is set (redis://host:port/db),
# else the database (an Event table each process polls every LXDSITE_EVENTS_POLL_INTERVAL s).
LXDSITE_REDIS_URL = os.environ.get("LXDSITE_REDIS_URL") or None
LXDSITE_EVENTS_POLL_INTERVAL = float(os.environ.get("LXDSITE_EVENTS_POLL_INTERVAL") or 0.1)
# Event rows older than this many seconds are pruned.
LXDSITE_EVENTS_RETENTION = float(os.environ.get("LXDSITE_EVENTS_RETENTION") or 60)
# Seconds a client has to send a request's line and headers once it sent their first byte;
# until then it costs the server a file descriptor (resources/serving/connection.py).
LXDSITE_REQUEST_HEAD_TIMEOUT = float(os.environ.get("LXDSITE_REQUEST_HEAD_TIMEOUT") or 60)
