"""The typed homeserver configuration: one frozen dataclass per section, Synapse's key names.

`build(raw, embedded=...)` turns the merged YAML (shared file + worker file) into a `HomeserverConfig`
or raises `ConfigError` naming the key. Nothing here touches Django: settings read the result.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unpaddedbase64 import decode_base64

from .appservices import AppServiceRegistration, load_registrations
from .errors import ConfigError
from .fields import MAX_PORT, Reader, check_each
from .workers import WorkerTopology, build_topology

# https://spec.matrix.org/latest/appendices/#server-name
SERVER_NAME_RE = re.compile(
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9\-.]{1,255})(?::[0-9]{1,5})?"
)

DEFAULT_IP_RANGE_BLACKLIST = (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15", "192.0.2.0/24",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "0.0.0.0/8", "255.255.255.255/32",
    "::1/128", "fe80::/10", "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10", "::/128",
)

# Room versions this server can create (spec: rooms/); `default_room_version` must be one of them.
KNOWN_ROOM_VERSIONS = tuple(str(v) for v in range(1, 13))

LISTENER_RESOURCES = {"client", "federation", "keys", "media", "replication", "health", "metrics",
                      "openid", "static"}


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst_count: int


@dataclass(frozen=True)
class VoipConfig:
    """GET /voip/turnServer (apps.voip): the TURN servers clients are told of, with credentials either
    derived from `turn_shared_secret` (TURN REST API) or the static `turn_username`/`turn_password`."""
    turn_uris: tuple[str, ...] = ()
    turn_shared_secret: str | None = None
    turn_username: str | None = None
    turn_password: str | None = None
    turn_user_lifetime_ms: int = 3_600_000
    turn_allow_guests: bool = True


@dataclass(frozen=True)
class Listener:
    port: int
    bind_addresses: tuple[str, ...]
    type: str
    tls: bool
    x_forwarded: bool
    resources: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseConfig:
    engine: str  # "sqlite" or "postgresql"
    name: str
    user: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    cp_max: int = 10


@dataclass(frozen=True)
class RedisConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = 6379
    password: str | None = None
    dbid: int = 0

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.dbid}"


@dataclass(frozen=True)
class TrustedKeyServer:
    """One entry of `trusted_key_servers` (Synapse's format): a notary we fetch other servers' keys
    through, with the keys its answers must be signed by."""

    server_name: str
    verify_keys: tuple[tuple[str, str], ...] = ()  # (key id, unpadded base64 public key)
    accept_keys_insecurely: bool = False


@dataclass(frozen=True)
class OldSigningKey:
    """One entry of `old_signing_keys` (Synapse's format): a key this server used to sign with, published
    in `old_verify_keys` so that what it signed before `expired_ts` still verifies."""

    key_id: str  # "ed25519:<version>"
    key: str  # unpadded base64 public key
    expired_ts: int  # ms since the epoch


@dataclass(frozen=True)
class PasswordPolicy:
    enabled: bool = False
    minimum_length: int = 0
    require_digit: bool = False
    require_symbol: bool = False
    require_lowercase: bool = False
    require_uppercase: bool = False


@dataclass(frozen=True)
class ThumbnailSize:
    width: int
    height: int
    method: str  # "crop" or "scale"


# Synapse's default `thumbnail_sizes` (the spec's recommended sizes, content_repo.md "Thumbnails").
DEFAULT_THUMBNAIL_SIZES = (
    ThumbnailSize(32, 32, "crop"), ThumbnailSize(96, 96, "crop"), ThumbnailSize(320, 240, "scale"),
    ThumbnailSize(640, 480, "scale"), ThumbnailSize(800, 600, "scale"),
)


@dataclass(frozen=True)
class MediaConfig:
    """The media repository (`apps.media`); key names as Synapse's."""

    thumbnail_sizes: tuple[ThumbnailSize, ...] = DEFAULT_THUMBNAIL_SIZES
    max_image_pixels: int = 32 * 1024 * 1024
    enable_authenticated_media: bool = True
    dynamic_thumbnails: bool = False
    url_preview_enabled: bool = False
    # URL previews fetch what users name: their own ranges, never the federation ones (as Synapse).
    url_preview_ip_range_blacklist: tuple[str, ...] = ()
    url_preview_ip_range_whitelist: tuple[str, ...] = ()
    # Each entry: ((URL part, glob or "^regex"), ...); a URL matching every part of one entry is refused.
    url_preview_url_blacklist: tuple[tuple[tuple[str, str], ...], ...] = ()
    max_spider_size: int = 10 * 1024 * 1024
    rc_media_create: RateLimit = RateLimit(10.0, 50)
    max_pending_media_uploads: int = 5
    unused_expiration_time_ms: int = 24 * 3_600_000
    local_media_lifetime_ms: int | None = None
    remote_media_lifetime_ms: int | None = None


@dataclass(frozen=True)
class UserDirectoryConfig:
    """`user_directory` (Synapse's keys): `POST /user_directory/search` (apps.user_directory)."""

    enabled: bool = True
    # Every local user is searchable, not only those sharing a room with the searcher or in public rooms.
    search_all_users: bool = False
    # Rank local users above remote ones.
    prefer_local_users: bool = False


@dataclass(frozen=True)
class EmailConfig:
    """`email` (the Synapse keys implemented here): notification emails of `kind: email` pushers
    (apps.push_delivery.email), sent through Django's email backend (EMAIL_HOST etc.)."""

    enable_notifs: bool = False
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_pass: str | None = None
    # STARTTLS required (Django's EMAIL_USE_TLS); `force_tls`: TLS from the first byte (EMAIL_USE_SSL).
    require_transport_security: bool = False
    force_tls: bool = False
    # May hold `%(app)s`, replaced by `app_name` (as Synapse).
    notif_from: str | None = None
    app_name: str = "Matrix"
    client_base_url: str = "https://matrix.to"
    # Not a Synapse key: how long a notification waits, unread, before it is emailed.
    notif_delay_ms: int = 600_000

    @property
    def from_address(self) -> str | None:
        return self.notif_from.replace("%(app)s", self.app_name) if self.notif_from else None


@dataclass(frozen=True)
class RetentionPurgeJob:
    """One `retention.purge_jobs` entry: rooms whose max_lifetime lies in [shortest, longest] are purged
    every `interval`."""
    shortest_max_lifetime_ms: int | None = None
    longest_max_lifetime_ms: int | None = None
    interval_ms: int = 86_400_000


@dataclass(frozen=True)
class RetentionConfig:
    """`retention` (Synapse's keys): message retention policies (`m.room.retention` state and the
    server's default), enforced by the `background` queue. Off unless `enabled`."""
    enabled: bool = False
    default_min_lifetime_ms: int | None = None
    default_max_lifetime_ms: int | None = None
    # A room's max_lifetime is clamped into [allowed_lifetime_min, allowed_lifetime_max].
    allowed_lifetime_min_ms: int | None = None
    allowed_lifetime_max_ms: int | None = None
    purge_jobs: tuple[RetentionPurgeJob, ...] = (RetentionPurgeJob(),)


@dataclass(frozen=True)
class HomeserverConfig:
    server_name: str
    public_baseurl: str
    data_directory: Path
    embedded: bool
    database: DatabaseConfig
    redis: RedisConfig
    listeners: tuple[Listener, ...]
    signing_key_path: Path
    secret_key: str | None
    media_store_path: Path
    serve_server_wellknown: bool
    default_room_version: str
    enable_registration: bool
    enable_registration_without_verification: bool
    registration_requires_token: bool
    registration_shared_secret: str | None
    allow_guest_access: bool
    password_enabled: bool
    password_policy: PasswordPolicy
    rc_login_address: RateLimit
    rc_login_account: RateLimit
    rc_login_failed_attempts: RateLimit
    rc_registration: RateLimit
    # Rooms (Synapse's rc_message, rc_joins.{local,remote}, rc_invites.{per_room,per_user,per_issuer}).
    rc_message: RateLimit
    rc_joins_local: RateLimit
    rc_joins_remote: RateLimit
    rc_invites_per_room: RateLimit
    rc_invites_per_user: RateLimit
    rc_invites_per_issuer: RateLimit
    refreshable_access_token_lifetime_ms: int | None
    refresh_token_lifetime_ms: int | None
    nonrefreshable_access_token_lifetime_ms: int | None
    session_lifetime_ms: int | None
    max_upload_size: int
    max_request_body_size: int
    ip_range_blacklist: tuple[str, ...]
    ip_range_whitelist: tuple[str, ...]
    federation_domain_whitelist: tuple[str, ...] | None
    admin_contact: str | None
    # GET /.well-known/matrix/support (apps.discovery.support): the homeserver's help page.
    support_page: str | None
    require_auth_for_profile_requests: bool
    presence_enabled: bool
    enable_metrics: bool
    log_config: Path | None
    log_level: str
    app_service_config_files: tuple[str, ...]
    # Their registrations, read and checked at start-up (hsproject.config.appservices).
    app_services: tuple[AppServiceRegistration, ...]
    workers: WorkerTopology
    media: MediaConfig = MediaConfig()
    user_directory: UserDirectoryConfig = UserDirectoryConfig()
    # Federation trust (apps.federation.keyring, apps.core.outbound); defaults keep every outbound
    # request inside what the operator configured: no notary unless listed.
    trusted_key_servers: tuple[TrustedKeyServer, ...] = ()
    # Our own keys (apps.federation.signing): retired keys, and how long our key response may be cached.
    old_signing_keys: tuple[OldSigningKey, ...] = ()
    key_refresh_interval_ms: int = 86_400_000
    outbound_name_resolution: bool = True
    federation_verify_certificates: bool = True
    federation_custom_ca_list: tuple[Path, ...] = ()
    # GET/POST /_matrix/federation/v1/publicRooms (apps.federation.handlers.public_rooms).
    allow_public_rooms_over_federation: bool = False
    email: EmailConfig = EmailConfig()
    voip: VoipConfig = VoipConfig()
    # Reports of events, rooms and users per reporting user (apps.reports); hsproject's own key.
    rc_reports: RateLimit = RateLimit(0.05, 5)
    # Background jobs (workers/background.py). Devices not seen for this long are deleted.
    delete_stale_devices_after_ms: int | None = None
    # MSC4140 delayed events: the longest delay a client may ask for; unset = the feature is off.
    max_event_delay_duration_ms: int | None = None
    # `stats.enabled`: room and user statistics kept by the background queue (admin's room list).
    stats_enabled: bool = True
    retention: RetentionConfig = RetentionConfig()
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> "HomeserverConfig":
        return replace(self, **changes)

    @property
    def is_main(self) -> bool:
        return self.workers.instance_name == "main"


def _rate_limit(r: Reader, name: str, per_second: float, burst: int) -> RateLimit:
    s = r.section(name)
    limit = RateLimit(s.number("per_second", per_second), s.int("burst_count", burst, minimum=1))
    s.finish()
    return limit


def _thumbnail_size(key: str, raw: Any) -> ThumbnailSize:
    t = Reader(raw, key)
    size = ThumbnailSize(t.int("width", None, minimum=1), t.int("height", None, minimum=1),
                         t.str("method", "scale", choices=("crop", "scale")))
    if size.width is None or size.height is None:
        raise ConfigError(t.key("width" if size.width is None else "height"), "is required")
    t.finish()
    return size


# The parts of a URL a `url_preview_url_blacklist` entry may name (attributes of urllib's SplitResult).
URL_BLACKLIST_PARTS = ("scheme", "netloc", "path", "query", "fragment", "username", "password", "hostname", "port")


def _url_blacklist(raw: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("url_preview_url_blacklist", "must be a list of {url part: pattern} mappings")

    def entry(key: str, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict) or not value:
            raise ConfigError(key, "must be a non-empty mapping of URL part to pattern")
        parts = []
        for part, pattern in value.items():
            if part not in URL_BLACKLIST_PARTS:
                raise ConfigError(f"{key}.{part}", f"unknown URL part; known: {', '.join(URL_BLACKLIST_PARTS)}")
            if isinstance(pattern, int) and not isinstance(pattern, bool):
                pattern = str(pattern)  # `port: 8080`
            if not isinstance(pattern, str):
                raise ConfigError(f"{key}.{part}", "must be a glob pattern or a regular expression starting with ^")
            if pattern.startswith("^"):
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise ConfigError(f"{key}.{part}", f"invalid regular expression: {e}") from None
            parts.append((part, pattern))
        return tuple(parts)

    return tuple(check_each("url_preview_url_blacklist", raw, entry))


def _media(r: Reader) -> MediaConfig:
    raw_sizes = r.raw_value("thumbnail_sizes", None)
    if raw_sizes is None:
        sizes = DEFAULT_THUMBNAIL_SIZES
    elif not isinstance(raw_sizes, list):
        raise ConfigError("thumbnail_sizes", "must be a list of {width, height, method} mappings")
    else:
        sizes = tuple(check_each("thumbnail_sizes", raw_sizes, _thumbnail_size))
    url_preview_enabled = r.bool("url_preview_enabled", False)
    # Read (and checked) whether enabled or not, so that a typo is caught before it matters.
    preview_blacklist_raw = r.raw_value("url_preview_ip_range_blacklist", None)
    if url_preview_enabled and preview_blacklist_raw is None:
        # Synapse refuses to start without it: previews fetch URLs any user names, so the admin must
        # say which internal ranges they may never reach.
        raise ConfigError("url_preview_ip_range_blacklist", "is required when url_preview_enabled is true")
    preview_blacklist = _cidrs("url_preview_ip_range_blacklist", r.str_list("url_preview_ip_range_blacklist", []))
    preview_whitelist = _cidrs("url_preview_ip_range_whitelist", r.str_list("url_preview_ip_range_whitelist", []))
    url_blacklist = _url_blacklist(r.raw_value("url_preview_url_blacklist", None))
    retention = r.section("media_retention")
    local_lifetime = retention.duration_ms("local_media_lifetime", None)
    remote_lifetime = retention.duration_ms("remote_media_lifetime", None)
    retention.finish()
    return MediaConfig(
        thumbnail_sizes=sizes,
        max_image_pixels=r.size("max_image_pixels", "32M"),
        enable_authenticated_media=r.bool("enable_authenticated_media", True),
        dynamic_thumbnails=r.bool("dynamic_thumbnails", False),
        url_preview_enabled=url_preview_enabled,
        url_preview_ip_range_blacklist=preview_blacklist,
        url_preview_ip_range_whitelist=preview_whitelist,
        url_preview_url_blacklist=url_blacklist,
        max_spider_size=r.size("max_spider_size", "10M"),
        rc_media_create=_rate_limit(r, "rc_media_create", 10, 50),
        max_pending_media_uploads=r.int("max_pending_media_uploads", 5, minimum=1),
        unused_expiration_time_ms=r.duration_ms("unused_expiration_time", "24h"),
        local_media_lifetime_ms=local_lifetime,
        remote_media_lifetime_ms=remote_lifetime,
    )


def _database(r: Reader, data_directory: Path) -> DatabaseConfig:
    s = r.section("database")
    name = s.str("name", "sqlite3", choices=("sqlite3", "psycopg2", "psycopg"))
    args = s.section("args")
    s.int("txn_limit", 0, minimum=0)
    s.bool("allow_unsafe_locale", False)
    s.finish()
    if name == "sqlite3":
        db = DatabaseConfig("sqlite", args.str("database", str(data_directory / "homeserver.db")))
        args.finish()
        return db
    # Both spellings are libpq's; read both so neither is reported as unknown. `database` wins.
    database_name = args.str("database", None)
    dbname = args.str("dbname", None)
    db = DatabaseConfig(
        "postgresql",
        name=database_name or dbname or "synapse",
        user=args.str("user", None),
        password=args.str("password", None),
        host=args.str("host", None),
        port=args.port("port", None),
        cp_max=args.int("cp_max", 10, minimum=1),
    )
    args.int("cp_min", 5, minimum=0)
    args.raw_value("keepalives_idle")
    args.raw_value("keepalives_interval")
    args.raw_value("keepalives_count")
    args.finish()
    return db


def _listener(key: str, raw: Any) -> Listener:
    r = Reader(raw, key)
    port = r.port("port", None, minimum=0)
    path = r.str("path", None)
    if port is None and path is None:
        raise ConfigError(r.key("port"), "a listener needs a port (or a unix socket path)")
    addrs = r.str_list("bind_addresses", [])
    single = r.str("bind_address", None)
    if single:
        addrs.append(single)
    for i, a in enumerate(addrs):
        try:
            ipaddress.ip_address(a)
        except ValueError:
            raise ConfigError(f"{key}.bind_addresses[{i}]", f"{a!r} is not an IP address") from None
    ltype = r.str("type", "http", choices=("http", "metrics", "manhole"))
    tls = r.bool("tls", False)
    xf = r.bool("x_forwarded", False)
    names: list[str] = []
    res = r.raw_value("resources", [])
    if not isinstance(res, list):
        raise ConfigError(r.key("resources"), "must be a list of {names: [...]} mappings")
    for i, entry in enumerate(res):
        er = Reader(entry, f"{key}.resources[{i}]")
        for n in er.str_list("names", []):
            if n not in LISTENER_RESOURCES:
                raise ConfigError(er.key("names"), f"unknown resource {n!r}; known: {', '.join(sorted(LISTENER_RESOURCES))}")
            names.append(n)
        er.bool("compress", False)
        er.finish()
    r.str("tag", None)
    r.finish()
    return Listener(port or 0, tuple(addrs) or ("127.0.0.1",), ltype, tls, xf, tuple(names))


def _cidrs(key: str, values: list[str]) -> tuple[str, ...]:
    def check(k: str, v: str) -> str:
        try:
            ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise ConfigError(k, f"{v!r} is not an IP range in CIDR notation") from None
        return v
    return tuple(check_each(key, values, check))


def _trusted_key_server(key: str, raw: Any) -> TrustedKeyServer:
    r = Reader(raw, key)
    name = r.str("server_name", None)
    if not name or not SERVER_NAME_RE.fullmatch(name):
        raise ConfigError(r.key("server_name"), "must be a server name")
    vk = r.raw_value("verify_keys", {})
    if not isinstance(vk, dict):
        raise ConfigError(r.key("verify_keys"), "must be a mapping of key id to base64 public key")
    for key_id, b64 in vk.items():
        if not isinstance(key_id, str) or not key_id.startswith("ed25519:") or not isinstance(b64, str):
            raise ConfigError(r.key("verify_keys"), f"{key_id!r}: expected 'ed25519:<version>': '<base64 key>'")
    insecure = r.bool("accept_keys_insecurely", False)
    r.finish()
    if not vk and not insecure:
        raise ConfigError(r.key("verify_keys"), f"give the verify keys of {name}, or set accept_keys_insecurely: true")
    return TrustedKeyServer(name, tuple(sorted(vk.items())), insecure)


def _old_signing_keys(r: Reader) -> tuple[OldSigningKey, ...]:
    raw = r.raw_value("old_signing_keys", {})
    if not isinstance(raw, dict):
        raise ConfigError("old_signing_keys", 'must be a mapping {"ed25519:<version>": {key, expired_ts}}')
    out = []
    for key_id, entry in raw.items():
        name = f"old_signing_keys.{key_id}"
        if not isinstance(key_id, str) or not re.fullmatch(r"ed25519:[A-Za-z0-9_]+", key_id):
            raise ConfigError(name, "the key id must be 'ed25519:<version>' (version: letters, digits, _)")
        e = Reader(entry, name)
        b64, expired_ts = e.str("key", None), e.int("expired_ts", None, minimum=0)
        e.finish()
        try:
            ok = b64 is not None and len(decode_base64(b64)) == 32
        except Exception:
            ok = False
        if not ok:
            raise ConfigError(e.key("key"), "must be the unpadded base64 of the 32-byte ed25519 public key")
        if expired_ts is None:
            raise ConfigError(e.key("expired_ts"), "is required (when the key stopped being used, ms since the epoch)")
        out.append(OldSigningKey(key_id, b64, expired_ts))
    return tuple(out)


def _email(r: Reader) -> EmailConfig:
    em = r.section("email")
    force_tls = em.bool("force_tls", False)
    cfg = EmailConfig(
        enable_notifs=em.bool("enable_notifs", False),
        smtp_host=em.str("smtp_host", None),
        smtp_port=em.port("smtp_port", 465 if force_tls else 25),
        smtp_user=em.str("smtp_user", None),
        smtp_pass=em.str("smtp_pass", None),
        require_transport_security=em.bool("require_transport_security", False),
        force_tls=force_tls,
        notif_from=em.str("notif_from", None),
        app_name=em.str("app_name", "Matrix"),
        client_base_url=em.str("client_base_url", "https://matrix.to", pattern=r"https?://[^\s]+").rstrip("/"),
        notif_delay_ms=em.duration_ms("notif_delay", "10m"),
    )
    em.finish()
    if cfg.enable_notifs:
        for key in ("notif_from", "smtp_host"):
            if not getattr(cfg, key):
                raise ConfigError(f"email.{key}", "is required when email.enable_notifs is true")
    if cfg.notif_from and "@" not in cfg.notif_from:
        raise ConfigError("email.notif_from", f"{cfg.notif_from!r} is not an email address")
    return cfg


def _purge_job(key: str, raw: Any) -> RetentionPurgeJob:
    r = Reader(raw, key)
    job = RetentionPurgeJob(shortest_max_lifetime_ms=r.duration_ms("shortest_max_lifetime", None),
                            longest_max_lifetime_ms=r.duration_ms("longest_max_lifetime", None),
                            interval_ms=r.duration_ms("interval", "1d"))
    r.finish()
    if job.interval_ms <= 0:
        raise ConfigError(f"{key}.interval", "must be positive")
    if (job.shortest_max_lifetime_ms is not None and job.longest_max_lifetime_ms is not None
            and job.shortest_max_lifetime_ms > job.longest_max_lifetime_ms):
        raise ConfigError(f"{key}.shortest_max_lifetime", "is longer than longest_max_lifetime")
    return job


def _retention(r: Reader) -> RetentionConfig:
    rt = r.section("retention")
    policy = rt.section("default_policy")
    min_lifetime = policy.duration_ms("min_lifetime", None)
    max_lifetime = policy.duration_ms("max_lifetime", None)
    policy.finish()
    raw_jobs = rt.raw_value("purge_jobs", None)
    if raw_jobs is None:
        jobs = (RetentionPurgeJob(),)
    elif not isinstance(raw_jobs, list) or not raw_jobs:
        raise ConfigError(rt.key("purge_jobs"), "must be a non-empty list of {interval, shortest_max_lifetime, "
                                                "longest_max_lifetime} mappings")
    else:
        jobs = tuple(check_each(rt.key("purge_jobs"), raw_jobs, _purge_job))
    cfg = RetentionConfig(enabled=rt.bool("enabled", False), default_min_lifetime_ms=min_lifetime,
                          default_max_lifetime_ms=max_lifetime,
                          allowed_lifetime_min_ms=rt.duration_ms("allowed_lifetime_min", None),
                          allowed_lifetime_max_ms=rt.duration_ms("allowed_lifetime_max", None), purge_jobs=jobs)
    rt.finish()
    if (cfg.allowed_lifetime_min_ms is not None and cfg.allowed_lifetime_max_ms is not None
            and cfg.allowed_lifetime_min_ms > cfg.allowed_lifetime_max_ms):
        raise ConfigError("retention.allowed_lifetime_min", "is longer than allowed_lifetime_max")
    if min_lifetime is not None and max_lifetime is not None and min_lifetime > max_lifetime:
        raise ConfigError("retention.default_policy.min_lifetime", "is longer than max_lifetime")
    return cfg


def build(raw: dict, *, embedded: bool, data_directory: Path) -> HomeserverConfig:
    r = Reader(raw)
    server_name = r.str("server_name", "localhost:8008" if embedded else None)
    if not server_name:
        raise ConfigError("server_name", "is required")
    if not SERVER_NAME_RE.fullmatch(server_name):
        raise ConfigError("server_name", f"{server_name!r} is not a valid Matrix server name")
    port_match = re.search(r":([0-9]{1,5})$", server_name)  # an IPv6 literal ends with "]", not a port
    if port_match and not 1 <= int(port_match.group(1)) <= MAX_PORT:
        raise ConfigError("server_name", f"{server_name!r} has a port outside 1-{MAX_PORT}")
    data_dir_raw = r.str("data_directory", None)
    if data_dir_raw:
        data_directory = Path(data_dir_raw)
    public_baseurl = r.str("public_baseurl", None, pattern=r"https?://[^\s]+")
    if public_baseurl is None:
        public_baseurl = f"http://{server_name}/" if embedded else f"https://{server_name}/"
    if not public_baseurl.endswith("/"):
        public_baseurl += "/"

    database = _database(r, data_directory)
    rs = r.section("redis")
    redis = RedisConfig(rs.bool("enabled", False), rs.str("host", "localhost"), rs.port("port", 6379),
                        rs.str("password", None), rs.int("dbid", 0, minimum=0))
    rs.finish()

    raw_listeners = r.raw_value("listeners", None)
    if raw_listeners is None:
        raw_listeners = [{"port": 8008, "bind_addresses": ["127.0.0.1"], "type": "http",
                          "x_forwarded": False, "resources": [{"names": ["client", "federation"]}]}]
    if not isinstance(raw_listeners, list):
        raise ConfigError("listeners", "must be a list of listeners")
    listeners = tuple(check_each("listeners", raw_listeners, _listener))

    signing_key_path = Path(r.str("signing_key_path", None) or data_directory / f"{server_name.replace(':', '_')}.signing.key")
    # Read both keys (either may be set, or both) before choosing, so neither is reported as unknown.
    form_secret = r.str("form_secret", None)
    macaroon_secret_key = r.str("macaroon_secret_key", None)
    secret_key = form_secret or macaroon_secret_key
    media_store_path = Path(r.str("media_store_path", None) or data_directory / "media_store")

    pc = r.section("password_config")
    password_enabled = pc.bool("enabled", True)
    pp = pc.section("policy")
    policy = PasswordPolicy(pp.bool("enabled", False), pp.int("minimum_length", 0, minimum=0),
                            pp.bool("require_digit", False), pp.bool("require_symbol", False),
                            pp.bool("require_lowercase", False), pp.bool("require_uppercase", False))
    pp.finish()
    pc.str("pepper", None)
    pc.bool("localdb_enabled", True)
    pc.finish()

    rl = r.section("rc_login")
    rc_login_address = _rate_limit(rl, "address", 0.003, 5)
    rc_login_account = _rate_limit(rl, "account", 0.003, 5)
    rc_login_failed = _rate_limit(rl, "failed_attempts", 0.17, 3)
    rl.finish()
    rc_registration = _rate_limit(r, "rc_registration", 0.17, 3)
    # Synapse's defaults (docs/usage/configuration/config_documentation.md, "Ratelimiting").
    rc_message = _rate_limit(r, "rc_message", 0.2, 10)
    rj = r.section("rc_joins")
    rc_joins_local = _rate_limit(rj, "local", 0.1, 10)
    rc_joins_remote = _rate_limit(rj, "remote", 0.01, 10)
    rj.finish()
    ri = r.section("rc_invites")
    rc_invites_per_room = _rate_limit(ri, "per_room", 0.3, 10)
    rc_invites_per_user = _rate_limit(ri, "per_user", 0.003, 5)
    rc_invites_per_issuer = _rate_limit(ri, "per_issuer", 0.3, 10)
    ri.finish()

    log_config = r.str("log_config", None)
    if log_config and not Path(log_config).is_file():
        raise ConfigError("log_config", f"file {log_config!r} does not exist")
    level = r.str("log_level", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))

    asfiles = r.str_list("app_service_config_files", [])
    fed_whitelist = r.raw_value("federation_domain_whitelist", None)
    if fed_whitelist is not None:
        fed_whitelist = tuple(r.str_list("federation_domain_whitelist"))

    raw_tks = r.raw_value("trusted_key_servers", [])
    if not isinstance(raw_tks, list):
        raise ConfigError("trusted_key_servers", "must be a list of {server_name, verify_keys} mappings")
    trusted_key_servers = tuple(check_each("trusted_key_servers", raw_tks, _trusted_key_server))
    r.bool("suppress_key_server_warning", False)  # Synapse's; there is no warning to suppress here
    old_signing_keys = _old_signing_keys(r)
    key_refresh_interval_ms = r.duration_ms("key_refresh_interval", "1d")
    if key_refresh_interval_ms <= 0:
        raise ConfigError("key_refresh_interval", "must be positive")
    ca_list = r.str_list("federation_custom_ca_list", [])
    for i, ca in enumerate(ca_list):
        if not Path(ca).is_file():
            raise ConfigError(f"federation_custom_ca_list[{i}]", f"file {ca!r} does not exist")

    presence = r.section("presence")
    presence_enabled = presence.bool("enabled", True)
    presence.finish()

    ud = r.section("user_directory")
    user_directory = UserDirectoryConfig(enabled=ud.bool("enabled", True),
                                         search_all_users=ud.bool("search_all_users", False),
                                         prefer_local_users=ud.bool("prefer_local_users", False))
    ud.finish()

    workers = build_topology(r)
    media = _media(r)
    email = _email(r)
    voip = VoipConfig(
        turn_uris=tuple(r.str_list("turn_uris", [])),
        turn_shared_secret=r.str("turn_shared_secret", None),
        turn_username=r.str("turn_username", None),
        turn_password=r.str("turn_password", None),
        turn_user_lifetime_ms=r.duration_ms("turn_user_lifetime", "1h"),
        turn_allow_guests=r.bool("turn_allow_guests", True),
    )
    rc_reports = _rate_limit(r, "rc_reports", 0.05, 5)
    retention = _retention(r)
    stats = r.section("stats")
    stats_enabled = stats.bool("enabled", True)
    stats.finish()

    cfg = HomeserverConfig(
        server_name=server_name,
        public_baseurl=public_baseurl,
        data_directory=data_directory,
        embedded=embedded,
        database=database,
        redis=redis,
        listeners=listeners,
        signing_key_path=signing_key_path,
        secret_key=secret_key,
        media_store_path=media_store_path,
        serve_server_wellknown=r.bool("serve_server_wellknown", False),
        default_room_version=r.str("default_room_version", "12", choices=KNOWN_ROOM_VERSIONS),
        # The embedded default is a loopback-only developer server: registration is open there so
        # a client can be tried at once; with a config file it is off unless asked for (as Synapse).
        enable_registration=r.bool("enable_registration", embedded),
        enable_registration_without_verification=r.bool("enable_registration_without_verification", embedded),
        registration_requires_token=r.bool("registration_requires_token", False),
        registration_shared_secret=r.str("registration_shared_secret", None),
        allow_guest_access=r.bool("allow_guest_access", False),
        password_enabled=password_enabled,
        password_policy=policy,
        rc_login_address=rc_login_address,
        rc_login_account=rc_login_account,
        rc_login_failed_attempts=rc_login_failed,
        rc_registration=rc_registration,
        rc_message=rc_message,
        rc_joins_local=rc_joins_local,
        rc_joins_remote=rc_joins_remote,
        rc_invites_per_room=rc_invites_per_room,
        rc_invites_per_user=rc_invites_per_user,
        rc_invites_per_issuer=rc_invites_per_issuer,
        refreshable_access_token_lifetime_ms=r.duration_ms("refreshable_access_token_lifetime", "5m"),
        refresh_token_lifetime_ms=r.duration_ms("refresh_token_lifetime", None),
        nonrefreshable_access_token_lifetime_ms=r.duration_ms("nonrefreshable_access_token_lifetime", None),
        session_lifetime_ms=r.duration_ms("session_lifetime", None),
        max_upload_size=r.size("max_upload_size", "50M"),
        max_request_body_size=r.size("max_request_body_size", "2M"),
        ip_range_blacklist=_cidrs("ip_range_blacklist", r.str_list("ip_range_blacklist", list(DEFAULT_IP_RANGE_BLACKLIST))),
        ip_range_whitelist=_cidrs("ip_range_whitelist", r.str_list("ip_range_whitelist", [])),
        federation_domain_whitelist=fed_whitelist,
        trusted_key_servers=trusted_key_servers,
        old_signing_keys=old_signing_keys,
        key_refresh_interval_ms=key_refresh_interval_ms,
        outbound_name_resolution=r.bool("outbound_name_resolution", True),
        federation_verify_certificates=r.bool("federation_verify_certificates", True),
        federation_custom_ca_list=tuple(Path(ca) for ca in ca_list),
        allow_public_rooms_over_federation=r.bool("allow_public_rooms_over_federation", False),
        admin_contact=r.str("admin_contact", None),
        support_page=r.str("support_page", None, pattern=r"https?://[^\s]+"),
        require_auth_for_profile_requests=r.bool("require_auth_for_profile_requests", False),
        presence_enabled=presence_enabled,
        enable_metrics=r.bool("enable_metrics", False),
        log_config=Path(log_config) if log_config else None,
        log_level=level,
        app_service_config_files=tuple(asfiles),
        app_services=load_registrations(asfiles),
        workers=workers,
        media=media,
        user_directory=user_directory,
        email=email,
        voip=voip,
        rc_reports=rc_reports,
        delete_stale_devices_after_ms=r.duration_ms("delete_stale_devices_after", None),
        max_event_delay_duration_ms=r.duration_ms("max_event_delay_duration", None),
        stats_enabled=stats_enabled,
        retention=retention,
    )
    if cfg.registration_requires_token is False and cfg.enable_registration and not (
        cfg.enable_registration_without_verification
    ):
        raise ConfigError(
            "enable_registration",
            "open registration without email or token verification invites spam; set "
            "enable_registration_without_verification: true or registration_requires_token: true",
        )
    r.finish()
    return cfg
