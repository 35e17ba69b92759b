"""Django settings derived from the homeserver configuration.

`django_settings(hs)` is the one place that maps a `HomeserverConfig` onto Django, the cache, Celery and
logging; `__init__.py` (real processes) and `test.py` (the test tiers) both call it.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from hsproject.config import ConfigError, HomeserverConfig

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _secret_key(hs: HomeserverConfig) -> str:
    if hs.secret_key:
        return hs.secret_key
    if not hs.embedded:
        raise ConfigError("form_secret", "is required outside the embedded default (a long random string)")
    path = hs.data_directory / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _database(hs: HomeserverConfig) -> dict[str, Any]:
    db = hs.database
    if db.engine == "sqlite":
        Path(db.name).parent.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": db.name,
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db.name,
        "USER": db.user or "",
        "PASSWORD": db.password or "",
        "HOST": db.host or "",
        "PORT": str(db.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


CORE_APPS = ("core", "accounts", "discovery", "federation", "rooms", "streams", "sync", "admin_api", "media")


def discovered_apps() -> list[str]:
    """Every other `apps/<name>/` with an `apps.py`, in name order: a new area of the API is installed
    by existing, not by editing this list."""
    root = BASE_DIR / "apps"
    return [f"apps.{d.name}" for d in sorted(root.iterdir())
            if d.name not in CORE_APPS and (d / "apps.py").is_file()]


def django_settings(hs: HomeserverConfig) -> dict[str, Any]:
    if hs.embedded:
        hs.data_directory.mkdir(parents=True, exist_ok=True)
    if hs.redis.enabled:
        # Tolerant of a Redis outage (reads miss, writes drop); short timeouts so an outage costs little.
        cache = {"BACKEND": "apps.core.cache.TolerantRedisCache", "LOCATION": hs.redis.url,
                 "KEY_PREFIX": "hs", "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2.0}}
    else:
        cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hsproject"}
    return {
        "HS": hs,
        "BASE_DIR": BASE_DIR,
        "SECRET_KEY": _secret_key(hs),
        "DEBUG": False,
        "ALLOWED_HOSTS": ["*"],
        "INSTALLED_APPS": [
            # apps.core first: its `runserver` (daphne's, with the homeserver's defaults) must win over
            # daphne's, which in turn must win over staticfiles' WSGI one.
            "apps.core",
            "daphne",  # makes `manage.py runserver` serve the ASGI application
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "rest_framework",
            "apps.accounts",
            "apps.discovery",
            "apps.federation",
            "apps.rooms",
            "apps.streams",
            "apps.sync",
            "apps.admin_api",
            "apps.media",
            *discovered_apps(),
        ],
        "MIDDLEWARE": [
            "apps.core.middleware.ClientAddressMiddleware",
            "apps.core.middleware.RequestIdMiddleware",
            "apps.core.middleware.CorsMiddleware",
            "apps.core.middleware.MatrixErrorMiddleware",
            "apps.core.middleware.BodySizeLimitMiddleware",
            "apps.core.middleware.EncodedSlashMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "APPEND_SLASH": False,
        "ROOT_URLCONF": "hsproject.urls",
        "TEMPLATES": [{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        "ASGI_APPLICATION": "hsproject.asgi.application",
        "WSGI_APPLICATION": "hsproject.wsgi.application",
        "DATABASES": {"default": _database(hs)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "AUTH_USER_MODEL": "accounts.User",
        "AUTHENTICATION_BACKENDS": ["apps.accounts.backends.MatrixUserBackend"],
        "PASSWORD_HASHERS": [
            "django.contrib.auth.hashers.Argon2PasswordHasher",
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        ],
        "CACHES": {"default": cache},
        "LANGUAGE_CODE": "en-us",
        "TIME_ZONE": "UTC",
        "USE_I18N": False,
        "USE_TZ": True,
        "STATIC_URL": "/static/",
        "STATIC_ROOT": str(hs.data_directory / "static"),
        # Matrix bodies are JSON read whole; the limit also guards the Django admin's forms.
        "DATA_UPLOAD_MAX_MEMORY_SIZE": hs.max_request_body_size,
        "DATA_UPLOAD_MAX_NUMBER_FIELDS": 10_000,
        "SESSION_COOKIE_NAME": "hs_admin_session",
        "CSRF_COOKIE_NAME": "hs_admin_csrf",
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
        # Notification emails (apps.push_delivery.email); tests swap the backend for locmem.
        "EMAIL_HOST": hs.email.smtp_host or "localhost",
        "EMAIL_PORT": hs.email.smtp_port,
        "EMAIL_HOST_USER": hs.email.smtp_user or "",
        "EMAIL_HOST_PASSWORD": hs.email.smtp_pass or "",
        "EMAIL_USE_TLS": hs.email.require_transport_security and not hs.email.force_tls,
        "EMAIL_USE_SSL": hs.email.force_tls,
        "DEFAULT_FROM_EMAIL": hs.email.from_address or "webmaster@localhost",
        "CELERY_BROKER_URL": hs.redis.url if hs.redis.enabled else "memory://",
        "CELERY_RESULT_BACKEND": None,
        # Embedded default: no broker process, so a task runs in this process when `.delay()` is
        # called, which `workers.base.enqueue_on_commit` only does after the transaction commits.
        "CELERY_TASK_ALWAYS_EAGER": not hs.redis.enabled,
        "CELERY_TASK_EAGER_PROPAGATES": False,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": "apps.core.request_ids.RequestIdFilter"}},
            "formatters": {"plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                                     "filters": ["request_id"]}},
            "root": {"handlers": ["console"], "level": hs.log_level},
            "loggers": {"django.request": {"level": "ERROR"}, "django.server": {"level": "INFO"}},
        },
    }
