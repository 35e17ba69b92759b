"""Settings of the test tiers.

`HS_TEST_TIER=fast` (default): SQLite and in-process cache, replication and tasks.
`HS_TEST_TIER=services`: the same tests against PostgreSQL (`HS_TEST_PG_*`) and Redis (`HS_TEST_REDIS_*`).
Outbound requests may only go to loopback (see `apps.core.outbound`), so no test reaches another host.
"""
import os
import tempfile
from pathlib import Path

from hsproject.config import load_from_files
from hsproject.config.sections import build

from .base import django_settings

TIER = os.environ.get("HS_TEST_TIER", "fast")
_data = Path(tempfile.mkdtemp(prefix="hs-test-"))

_raw = {
    "server_name": "test.local",
    "public_baseurl": "http://test.local/",
    "form_secret": "test-secret-not-for-production",
    "enable_registration": True,
    "enable_registration_without_verification": True,
    "registration_shared_secret": "shared-secret-for-tests",
    "signing_key_path": str(_data / "test.signing.key"),
    # Loopback only: a test must never contact another host.
    "ip_range_blacklist": ["0.0.0.0/0", "::/0"],
    "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
    # No DNS: only IP literals and localhost may be contacted; no notary.
    "outbound_name_resolution": False,
    "trusted_key_servers": [],
    # No outbound federation sender: a test with a fake remote member would otherwise have this process
    # send it transactions in the background. The sender's own tests turn it on.
    "send_federation": False,
    "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                 "account": {"per_second": 1000, "burst_count": 1000},
                 "failed_attempts": {"per_second": 1000, "burst_count": 1000}},
    "rc_registration": {"per_second": 1000, "burst_count": 1000},
    "rc_message": {"per_second": 1000, "burst_count": 1000},
    "rc_joins": {"local": {"per_second": 1000, "burst_count": 1000},
                 "remote": {"per_second": 1000, "burst_count": 1000}},
    "rc_invites": {"per_room": {"per_second": 1000, "burst_count": 1000},
                   "per_user": {"per_second": 1000, "burst_count": 1000},
                   "per_issuer": {"per_second": 1000, "burst_count": 1000}},
}
if TIER == "services":
    _raw["database"] = {"name": "psycopg2", "args": {
        "database": os.environ.get("HS_TEST_PG_DB", "hsproject_test"),
        "user": os.environ.get("HS_TEST_PG_USER", "postgres"),
        "host": os.environ.get("HS_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("HS_TEST_PG_PORT", "5432")),
    }}
    _raw["redis"] = {"enabled": True, "host": os.environ.get("HS_TEST_REDIS_HOST", "127.0.0.1"),
                     "port": int(os.environ.get("HS_TEST_REDIS_PORT", "6379")),
                     "dbid": int(os.environ.get("HS_TEST_REDIS_DB", "5"))}
else:
    _raw["database"] = {"name": "sqlite3", "args": {"database": str(_data / "test.db")}}

HS = build(_raw, embedded=False, data_directory=_data)
globals().update(django_settings(HS))
if TIER != "services":
    # A file, not Django's shared-cache in-memory test database: there a reader fails at once ("database
    # table is locked") while another thread writes the table, whereas a file database in WAL mode lets
    # readers read and makes writers wait (the threads of /sync long-poll tests, the writers' loops).
    DATABASES["default"]["TEST"] = {"NAME": str(_data / "test-run.db")}  # noqa: F821 - set just above
else:
    # Tests need no durability: commits do not wait for the WAL to reach the disk, which otherwise makes
    # the disk, not the CPU, the services tier's bottleneck (every transactional test commits often).
    DATABASES["default"]["OPTIONS"] = {"options": "-c synchronous_commit=off"}  # noqa: F821
PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F821 - defined by django_settings
del load_from_files
