"""Settings for the First Break AI platform, all read from the environment.

Defaults suit a newcomer's machine (SQLite, a file cache, an embedded Celery
broker); production sets DATABASE_URL, REDIS_URL, SECRET_KEY and friends.
Every variable is listed with a comment in `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_url("SITE_URL", schemes=("http", "https"), default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    # The API's interactive docs load Swagger UI from django-ninja's static files, not a CDN.
    "ninja",
    "cohort",
    "exercises",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, so it sees exceptions from the view: a cache or broker outage is a 503, not a 500.
    "config.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cohort.context_processors.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
_database_url = env_url(
    "DATABASE_URL",
    schemes=("sqlite", "postgres", "postgresql", "pgsql"),
    default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
)
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates the file but not its folder; system checks already connect (JSONField support).
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server read while the worker writes. IMMEDIATE takes the
    # write lock when a transaction starts, so concurrent writers wait for it
    # (up to `timeout` seconds) instead of failing with "database is locked"
    # when a read lock cannot be upgraded mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so a Celery worker process in the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cohort.User"

# --- Cache and broker -----------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # A file cache is shared by the web server and the worker, which the
    # worker heartbeat and allauth's rate limits both need.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
CELERY_TASK_HARD_TIME_LIMIT = env_int("CELERY_TASK_HARD_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_HARD_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_HARD_TIME_LIMIT")
# Redis redelivers unacknowledged tasks after this many seconds; it must
# outlive the longest task or a slow task would run twice.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1)
if CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_HARD_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must be above CELERY_TASK_HARD_TIME_LIMIT")
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
# Monitors sending `Authorization: Bearer <token>` to /healthz see the details staff see.
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN")

# --- Auth and accounts --------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "cohort:home"  # the dashboard needs a cohort slug; home picks the cohort
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[First Break AI] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_ADAPTER = "cohort.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "cohort.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False

GITHUB_CLIENT_ID = env_str("GITHUB_CLIENT_ID")
GITHUB_CLIENT_SECRET = env_str("GITHUB_CLIENT_SECRET")
if bool(GITHUB_CLIENT_ID) != bool(GITHUB_CLIENT_SECRET):
    raise ImproperlyConfigured("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET must be set together")
GITHUB_LOGIN_ENABLED = bool(GITHUB_CLIENT_ID)
SOCIALACCOUNT_PROVIDERS = {
    "github": {
        "SCOPE": ["read:user", "user:email"],
        **(
            {"APPS": [{"client_id": GITHUB_CLIENT_ID, "secret": GITHUB_CLIENT_SECRET, "key": ""}]}
            if GITHUB_LOGIN_ENABLED
            else {}
        ),
    }
}

# --- GitHub webhook and API ---------------------------------------------------------
# Several comma-separated secrets let a secret be rotated without dropping deliveries.
GITHUB_WEBHOOK_SECRETS = env_list("GITHUB_WEBHOOK_SECRETS")
GITHUB_WEBHOOK_MAX_BYTES = env_int("GITHUB_WEBHOOK_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
GITHUB_TOKEN = env_str("GITHUB_TOKEN")
GITHUB_API_URL = env_url("GITHUB_API_URL", schemes=("http", "https"), default="https://api.github.com")
# Comments on pull requests: first retry after about this many seconds, doubling (with jitter)
# up to 10 minutes; a beat sweep keeps trying for GITHUB_COMMENT_GIVE_UP_HOURS, then leads see it failed.
GITHUB_COMMENT_RETRY_SECONDS = env_int("GITHUB_COMMENT_RETRY_SECONDS", 15, minimum=1)
GITHUB_COMMENT_GIVE_UP_HOURS = env_int("GITHUB_COMMENT_GIVE_UP_HOURS", 24, minimum=1)

# --- Email ----------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "First Break AI <noreply@firstbreak.ai>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email_host = env_str("EMAIL_HOST")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 587, minimum=1),
                "username": env_str("EMAIL_HOST_USER"),
                "password": env_str("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }
elif DEBUG:
    _mail_backend = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    _mail_options = {"file_path": str(VAR_DIR / "mail")} if _mail_backend.endswith("filebased.EmailBackend") else {}
    MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
else:
    raise ImproperlyConfigured("EMAIL_HOST must be set when DEBUG is off (accounts need verification mail)")

# --- Security -------------------------------------------------------------------
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (Django's own middleware). Scripts come only from this site:
# no inline <script>, no onclick="...", no eval, so HTML that slips into a page cannot run. Styles allow
# inline because mermaid styles the SVG it draws and a few templates set widths in style="...".
# Images: this site and data: URLs (mermaid); user Markdown keeps no off-site images either.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# /healthz must answer plain HTTP probes from a load balancer.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- I18n and static ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "config.storage.StaticStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}

# --- Product limits ------------------------------------------------------------------
ROSTER_MAX_ROWS = env_int("ROSTER_MAX_ROWS", 2000, minimum=1)
ROSTER_MAX_BYTES = env_int("ROSTER_MAX_BYTES", 1_000_000, minimum=1)
# GGUF files the sandbox runs; `manage.py sandbox_models provision-offline` fills it.
SANDBOX_MODELS_DIR = Path(env_str("SANDBOX_MODELS_DIR") or VAR_DIR / "models")

# --- Inference sandbox ---------------------------------------------------------------
# Half the cores by default: llama.cpp's threads spin while they wait for each other,
# so a worker that competes with the web server for every core slows to a crawl.
SANDBOX_N_THREADS = env_int("SANDBOX_N_THREADS", max(1, (os.cpu_count() or 2) // 2), minimum=1)
# Threads for a llama.cpp step of several tokens: a prompt, or one token for each of several
# sequences of the batch. A machine whose cores the inference worker has to itself can give
# those steps every core (batched matmuls split well), while one-token steps keep
# SANDBOX_N_THREADS. On a shared machine keep the default: spinning threads that lose their core
# slow a step tenfold. Logits do not depend on it (tests/inference/test_batching.py).
SANDBOX_N_THREADS_BATCH = env_int("SANDBOX_N_THREADS_BATCH", SANDBOX_N_THREADS, minimum=1)
SANDBOX_MODEL_CACHE_SIZE = env_int("SANDBOX_MODEL_CACHE_SIZE", 2, minimum=1)
SANDBOX_N_CTX = env_int("SANDBOX_N_CTX", 4096, minimum=256)
SANDBOX_MAX_TOKENS = env_int("SANDBOX_MAX_TOKENS", 512, minimum=1)
SANDBOX_MAX_PROMPT_CHARS = env_int("SANDBOX_MAX_PROMPT_CHARS", 20_000, minimum=1)
SANDBOX_RUNS_PER_MINUTE = env_int("SANDBOX_RUNS_PER_MINUTE", 10, minimum=1)
SANDBOX_CONCURRENT_RUNS = env_int("SANDBOX_CONCURRENT_RUNS", 2, minimum=1)
SANDBOX_LABS_PER_MINUTE = env_int("SANDBOX_LABS_PER_MINUTE", 6, minimum=1)
SANDBOX_CONCURRENT_LABS = env_int("SANDBOX_CONCURRENT_LABS", 2, minimum=1)
# Render and tokenize answer a live preview (one call per pause in typing) and the
# inspector and model list are reads: a person stays far below this, a script does not.
SANDBOX_PREVIEWS_PER_MINUTE = env_int("SANDBOX_PREVIEWS_PER_MINUTE", 120, minimum=1)
SANDBOX_SOFT_TIME_LIMIT = env_int("SANDBOX_SOFT_TIME_LIMIT", 120, minimum=1)
SANDBOX_HARD_TIME_LIMIT = env_int("SANDBOX_HARD_TIME_LIMIT", 150, minimum=2)
# Chat templates render in helper processes (inference/render_pool.py): how many per
# serving process, and the address space each may use.
SANDBOX_TEMPLATE_PROCESSES = env_int("SANDBOX_TEMPLATE_PROCESSES", 2, minimum=1)
SANDBOX_TEMPLATE_MEMORY_MB = env_int("SANDBOX_TEMPLATE_MEMORY_MB", 256, minimum=64)
# Quantization lab: disk its variants may use per learner and in all, and how long they are kept.
SANDBOX_VARIANT_QUOTA_MB = env_int("SANDBOX_VARIANT_QUOTA_MB", 2048, minimum=0)
SANDBOX_VARIANTS_TOTAL_QUOTA_MB = env_int("SANDBOX_VARIANTS_TOTAL_QUOTA_MB", 20480, minimum=0)
SANDBOX_VARIANT_RETENTION_DAYS = env_int("SANDBOX_VARIANT_RETENTION_DAYS", 7, minimum=1)
if not SANDBOX_SOFT_TIME_LIMIT < SANDBOX_HARD_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "SANDBOX_SOFT_TIME_LIMIT < SANDBOX_HARD_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT must hold"
    )
# Continuous batching (inference/batching.py): runs of one model in one worker
# process share a llama.cpp context of SANDBOX_BATCH_SEQUENCES sequences, each
# with its own KV cache of SANDBOX_BATCH_SEQ_CTX tokens (prompt + max_tokens must
# fit). KV memory per model = sequences x seq_ctx x (2 x layers x kv width x 2 bytes):
# SmolLM2-135M, 16 x 2048: about 750 MB. At most SANDBOX_BATCH_PER_LEARNER of a
# learner's runs are in one batch at a time.
SANDBOX_BATCH_SEQUENCES = env_int("SANDBOX_BATCH_SEQUENCES", 16, minimum=1)
SANDBOX_BATCH_SEQ_CTX = env_int("SANDBOX_BATCH_SEQ_CTX", 2048, minimum=256)
SANDBOX_BATCH_PER_LEARNER = env_int("SANDBOX_BATCH_PER_LEARNER", SANDBOX_CONCURRENT_RUNS, minimum=1)
# Work still "queued" this long after it was published is published again by
# the beat sweep (the broker was down, or the message was lost).
SANDBOX_REPUBLISH_AFTER = env_int("SANDBOX_REPUBLISH_AFTER", 60, minimum=5)
