"""Django settings for tongban, read from the environment (see README "Configuration")."""

from __future__ import annotations

import datetime
import os

import dj_database_url

from tongban.core.config import data_dir, env_flag, env_list, secret_key

DATA_DIR = data_dir()
SECRET_KEY = secret_key()
DEBUG = env_flag("TONGBAN_DEBUG")
ALLOWED_HOSTS = env_list("TONGBAN_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("TONGBAN_CSRF_TRUSTED_ORIGINS", "")

# The GB/T 2260 code of the region this node serves; names the ledger origin and federation peer.
TONGBAN_REGION = os.environ.get("TONGBAN_REGION", "330000")
TONGBAN_NODE_NAME = os.environ.get("TONGBAN_NODE_NAME", f"tongban.{TONGBAN_REGION}")

# Tamper-evident ledger: "standard" = SHA-256 + Ed25519, "national" = SM3 + SM2 (GB/T 32918).
# Fixed for the life of a ledger: the integrator refuses to extend a tree made with the other.
TONGBAN_CRYPTO_PROFILE = os.environ.get("TONGBAN_CRYPTO_PROFILE", "standard")
TONGBAN_KEYSTORE_DIR = DATA_DIR / "keystore"  # checkpoint signing key and subject-hash secret
# Integrate right after a recording transaction commits; the `tongban ledger integrate
# --follow` worker catches whatever that skips (another integrator held the lock).
TONGBAN_LEDGER_INTEGRATE_ON_COMMIT = env_flag("TONGBAN_LEDGER_INTEGRATE_ON_COMMIT", True)
# SQLite with a threaded server: integrate after a commit at most once per this many ms per
# process (writer threads of one process starve each other otherwise; see ledger.integrator).
TONGBAN_LEDGER_COALESCE_MS = int(os.environ.get("TONGBAN_LEDGER_COALESCE_MS", "0"))
# SQLite connections that serve ledger proofs read the file through a memory map of this size.
TONGBAN_LEDGER_SQLITE_MMAP_MB = int(os.environ.get("TONGBAN_LEDGER_SQLITE_MMAP_MB", "256"))

INSTALLED_APPS = [
    # Our apps first so their templates (admin, registration) take precedence.
    "tongban.core",
    "tongban.ledger",
    "tongban.identity",
    "tongban.catalog",
    "tongban.exchange",
    "tongban.credentials",
    "tongban.onestop",
    "tongban.policies",
    "tongban.oversight",
    "tongban.identity.admin_apps.TongbanAdminConfig",  # django.contrib.admin behind our login
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "huey.contrib.djhuey",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tongban.core.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tongban.core.middleware.ChineseFirstLocaleMiddleware",
    "tongban.core.middleware.RefuseNulMiddleware",  # U+0000 in the path or query: 400, before any query
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tongban.identity.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tongban.oversight.middleware.SecurityEventMiddleware",  # API 403/429 → SecurityEvent (outside the envelope)
    "tongban.core.middleware.ApiErrorEnvelopeMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "tongban.identity.middleware.PageAxesMiddleware",
]

ROOT_URLCONF = "tongban.site.urls"
WSGI_APPLICATION = "tongban.site.wsgi.application"
AUTH_USER_MODEL = "identity.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tongban.core.context_processors.platform",
            ],
        },
    },
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if config["ENGINE"] == "django.db.backends.postgresql":
            # The same backend, with a health check that sends nothing (core/dbbackends).
            config["ENGINE"] = "tongban.core.dbbackends.postgresql"
        return config
    # Embedded default. WAL lets readers run beside the writer; IMMEDIATE makes a write
    # transaction take the write lock at BEGIN, so it never fails upgrading from a read
    # ("database is locked" under two workers, see LIMITS.md).
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "tongban.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
        # Keep each worker's connection: opening one per request (and running the PRAGMAs) cost
        # ~1 ms of CPU, the whole gap between 850 and 1,690 exchange queries/s (bench_exchange).
        "CONN_MAX_AGE": None,
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out logins before checking passwords
    "django.contrib.auth.backends.ModelBackend",
]

# Login lockout (django-axes): 5 failures for one username from one address lock it for 15 min.
AXES_FAILURE_LIMIT = int(os.environ.get("TONGBAN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("TONGBAN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Our PageAxesMiddleware subclasses axes' middleware (it leaves /api/ to the API's own answer);
# axes' check looks for its class by name only.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]

# Background jobs (huey): SQLite queue in the data directory, Redis when TONGBAN_REDIS_URL is set.
_REDIS_URL = os.environ.get("TONGBAN_REDIS_URL")
HUEY = {
    "name": "tongban",
    "huey_class": "huey.RedisHuey" if _REDIS_URL else "huey.SqliteHuey",
    "connection": {"url": _REDIS_URL} if _REDIS_URL else {"filename": str(DATA_DIR / "jobs.sqlite3")},
    # Run tasks in the calling process (tests, or a deployment without a worker).
    "immediate": env_flag("TONGBAN_JOBS_IMMEDIATE"),
}

# Two-factor authentication: TOTP required for these roles unless switched off (demo only).
TONGBAN_MFA_REQUIRED = env_flag("TONGBAN_MFA_REQUIRED", True)
# Webhook pushes go only to public addresses (no SSRF into the platform's network) unless the
# operator allows private ones, e.g. consumers on the same government intranet.
TONGBAN_WEBHOOK_ALLOW_PRIVATE = env_flag("TONGBAN_WEBHOOK_ALLOW_PRIVATE")
TONGBAN_MFA_ROLES = ("bureau_admin", "cdo")
OTP_TOTP_ISSUER = "tongban 通办"

# API session tokens are short-lived; department-system tokens carry their own expiry.
TONGBAN_USER_TOKEN_TTL = int(os.environ.get("TONGBAN_USER_TOKEN_TTL", "3600"))

# Security monitoring (安全预警): thresholds of the detection rules (oversight.services.detection,
# run every 5 minutes). Each rule's dict is merged over the defaults in code, so an override may
# name only the keys it changes; "enabled": False switches a rule off; "severity" is low, medium,
# high or critical (high and critical alerts notify the bureau's administrators and CDOs).
TONGBAN_ALERT_RULES = {
    # A caller's accesses (or subjects read) in the last hour above `ratio` × its hourly mean over
    # the previous `baseline_days` days, and above `min_accesses` calls (or `min_subjects` subjects).
    "volume_spike": {"enabled": True, "severity": "high", "ratio": 5.0, "min_accesses": 200,
                     "min_subjects": 20000, "baseline_days": 7},
    # Subjects read (query, lookup, verify) by one caller between the hours (Asia/Shanghai; may
    # cross midnight, e.g. 22 to 6).
    "night_bulk": {"enabled": True, "severity": "high", "min_subjects": 2000, "night_start_hour": 0,
                   "night_end_hour": 6},
    # At least `min_subjects` distinct subjects in `window_minutes`, with a `not_found_share` of
    # misses or a `no_application_share` without a one-stop application of the caller's department
    # (created in the last `application_days`; applies to departments that handle one-stop items).
    "enumeration": {"enabled": True, "severity": "high", "window_minutes": 60, "min_subjects": 100,
                    "not_found_share": 0.5, "no_application_share": 0.9, "application_days": 30},
    # At least `min_events` refusals (403) of one caller within `window_minutes`.
    "repeated_forbidden": {"enabled": True, "severity": "medium", "window_minutes": 10, "min_events": 10,
                           "lookback_minutes": 60},
    # A successful login within `within_minutes` after the account was locked out.
    "login_after_lockout": {"enabled": True, "severity": "high", "within_minutes": 60, "lookback_hours": 24},
    # Calls refused as grant_expired / grant_revoked (at least `min_refusals`), and accesses served
    # after a grant's end (`served_severity`: it should never happen).
    "grant_after_period": {"enabled": True, "severity": "medium", "served_severity": "critical",
                           "min_refusals": 1, "lookback_hours": 24},
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "tongban.identity.passwords.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
]

# Internationalisation: Chinese first, English second.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LANGUAGE_COOKIE_NAME = "tongban_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
MEDIA_ROOT = DATA_DIR / "uploads"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Security: headers on, cookies not readable by scripts, HTTPS settings when behind TLS.
HTTPS = env_flag("TONGBAN_HTTPS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie
LANGUAGE_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_flag("TONGBAN_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # ID numbers, credit codes and phone numbers are masked in every line (core.logredact).
    "filters": {"redact": {"()": "tongban.core.logredact.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("TONGBAN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

