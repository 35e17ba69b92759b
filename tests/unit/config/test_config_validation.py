"""Configuration is read from YAML files through `hsproject.config.load_from_files`; every bad key or
value must raise `ConfigError` naming the dotted key, never half-load (DESIGN section 2)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from hsproject.config import ConfigError, load_from_files

SECRET = "a-long-random-form-secret-for-tests"


def write(tmp_path: Path, name: str, data: dict | str) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def load(tmp_path: Path, shared: dict | str | None, worker: dict | str | None = None):
    shared_path = write(tmp_path, "homeserver.yaml", shared) if shared is not None else None
    worker_path = write(tmp_path, "worker.yaml", worker) if worker is not None else None
    return load_from_files(shared_path, worker_path, data_dir=str(tmp_path / "data"))


def base(**extra) -> dict:
    return {"server_name": "example.org", "form_secret": SECRET, **extra}


def scaled(**extra) -> dict:
    """A shared file for several processes: main plus a few workers with replication listeners."""
    defaults = {
        "instance_map": {
            "main": {"host": "127.0.0.1", "port": 9093},
            "persister1": {"host": "127.0.0.1", "port": 9094},
            "persister2": {"host": "127.0.0.1", "port": 9095},
            "typing1": {"host": "127.0.0.1", "port": 9096},
        },
        "worker_replication_secret": "replication-secret",
    }
    return base(**{**defaults, **extra})


def worker(name: str, *, replication_port: int | None = None, **extra) -> dict:
    listeners = [{"type": "http", "port": 8083, "resources": [{"names": ["client"]}]}]
    if replication_port:
        listeners.append({"type": "http", "port": replication_port, "bind_addresses": ["127.0.0.1"],
                          "resources": [{"names": ["replication"]}]})
    return {"worker_app": "synapse.app.generic_worker", "worker_name": name,
            "worker_listeners": listeners, **extra}


def assert_bad(tmp_path: Path, shared, key: str, *, worker_yaml=None, match: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, shared, worker_yaml)
    err = info.value
    assert err.key == key, f"expected key {key!r}, got {err.key!r}: {err}"
    assert f"'{key}'" in str(err)
    if match:
        assert match in err.message, err.message
    return err


# -- the embedded default --------------------------------------------------------------------------

def test_embedded_default_without_any_file(tmp_path):
    cfg = load_from_files(None, None, data_dir=str(tmp_path / "data"))
    assert cfg.embedded
    assert cfg.server_name == "localhost:8008"
    assert cfg.database.engine == "sqlite"
    assert Path(cfg.database.name) == (tmp_path / "data" / "homeserver.db").resolve()
    assert cfg.data_directory == (tmp_path / "data").resolve()
    assert cfg.signing_key_path.parent == cfg.data_directory
    assert cfg.media_store_path == cfg.data_directory / "media_store"
    assert not cfg.redis.enabled
    assert cfg.workers.instance_name == "main" and cfg.is_main
    assert cfg.workers.writes("events") and cfg.workers.writes("typing")
    assert [l.port for l in cfg.listeners] == [8008]
    assert cfg.listeners[0].bind_addresses == ("127.0.0.1",)


def test_embedded_default_uses_hs_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HS_DATA_DIR", str(tmp_path / "elsewhere"))
    cfg = load_from_files(None, None)
    assert cfg.data_directory == (tmp_path / "elsewhere").resolve()
    assert Path(cfg.database.name).parent == cfg.data_directory


def test_minimal_file_is_not_embedded(tmp_path):
    cfg = load(tmp_path, base())
    assert not cfg.embedded
    assert cfg.server_name == "example.org"
    assert cfg.public_baseurl == "https://example.org/"
    assert cfg.enable_registration is False  # off unless asked for, as in Synapse


def test_empty_file_needs_server_name(tmp_path):
    assert_bad(tmp_path, "", "server_name", match="required")


def test_sizes_and_durations_accept_synapse_notation(tmp_path):
    cfg = load(tmp_path, base(max_upload_size="10M", max_request_body_size=4096,
                              session_lifetime="7d", refresh_token_lifetime="1h",
                              nonrefreshable_access_token_lifetime=60000))
    assert cfg.max_upload_size == 10 * 1024 * 1024
    assert cfg.max_request_body_size == 4096
    assert cfg.session_lifetime_ms == 7 * 86_400_000
    assert cfg.refresh_token_lifetime_ms == 3_600_000
    assert cfg.nonrefreshable_access_token_lifetime_ms == 60000


def test_form_secret_and_macaroon_secret_key_may_both_be_set(tmp_path):
    cfg = load(tmp_path, base(macaroon_secret_key="other"))
    assert cfg.secret_key == SECRET


def test_postgres_database(tmp_path):
    cfg = load(tmp_path, base(database={"name": "psycopg2", "args": {
        "user": "synapse", "password": "pw", "dbname": "hs", "host": "db", "port": 5433,
        "cp_min": 5, "cp_max": 20}}))
    db = cfg.database
    assert (db.engine, db.name, db.user, db.password, db.host, db.port, db.cp_max) == (
        "postgresql", "hs", "synapse", "pw", "db", 5433, 20)


# -- unknown keys and typos -----------------------------------------------------------------------

@pytest.mark.parametrize("shared,key", [
    (base(enable_registation=True), "enable_registation"),
    (base(servername="x"), "servername"),
    (base(database={"name": "sqlite3", "args": {"databse": "x.db"}}), "database.args.databse"),
    (base(database={"nmae": "sqlite3"}), "database.nmae"),
    (base(redis={"enabled": True, "hots": "localhost"}), "redis.hots"),
    (base(rc_login={"adress": {"per_second": 1, "burst_count": 2}}), "rc_login.adress"),
    (base(rc_registration={"per_second": 1, "burst": 2}), "rc_registration.burst"),
    (base(password_config={"policy": {"minimum_lenght": 8}}), "password_config.policy.minimum_lenght"),
    (base(listeners=[{"port": 8008, "resource": [{"names": ["client"]}]}]), "listeners[0].resource"),
    (base(presence={"enable": False}), "presence.enable"),
    (scaled(instance_map={"main": {"host": "h", "port": 1, "prot": 2}}), "instance_map.main.prot"),
])
def test_unknown_key_is_named(tmp_path, shared, key):
    assert_bad(tmp_path, shared, key, match="unknown key")


def test_top_level_must_be_a_mapping(tmp_path):
    assert_bad(tmp_path, "- just\n- a list\n", "HS_CONFIG", match="mapping")


def test_invalid_yaml_names_the_file_variable(tmp_path):
    assert_bad(tmp_path, "server_name: [unclosed\n", "HS_CONFIG", match="not valid YAML")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_from_files(str(tmp_path / "nope.yaml"), None)
    assert info.value.key == "HS_CONFIG"


# -- bad values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shared,key", [
    (base(enable_registration="yes"), "enable_registration"),
    (base(server_name=8008), "server_name"),
    (base(max_upload_size=1.5), "max_upload_size"),
    (base(redis={"enabled": True, "port": "6379"}), "redis.port"),
    (base(redis={"enabled": True, "port": 70000}), "redis.port"),
    (base(database={"name": "mysql"}), "database.name"),
    (base(database={"name": "psycopg2", "args": {"port": 0}}), "database.args.port"),
    (base(rc_login={"address": {"per_second": "fast"}}), "rc_login.address.per_second"),
    (base(rc_registration={"burst_count": 0}), "rc_registration.burst_count"),
    (base(log_level="LOUD"), "log_level"),
    (base(public_baseurl="example.org"), "public_baseurl"),
    (base(default_room_version="99"), "default_room_version"),
    (base(ip_range_blacklist=["10.0.0.0/8", "not-a-range"]), "ip_range_blacklist[1]"),
    (base(app_service_config_files="x.yaml\n".splitlines() + [3]), "app_service_config_files"),
    (base(log_config="/nonexistent/log.yaml"), "log_config"),
    (base(enable_registration=True), "enable_registration"),  # open registration without verification
])
def test_bad_value_is_named(tmp_path, shared, key):
    assert_bad(tmp_path, shared, key)


@pytest.mark.parametrize("name", ["exa mple.org", "example.org:port", "example.org:99999", "", "a/b",
                                  "example.org:0", "[::1", "example.org:"])
def test_bad_server_name(tmp_path, name):
    assert_bad(tmp_path, base(server_name=name), "server_name")


@pytest.mark.parametrize("name", ["example.org", "matrix.example.org:8448", "127.0.0.1:8008", "[::1]:8448",
                                  "[2001:db8::1]", "localhost"])
def test_good_server_name(tmp_path, name):
    assert load(tmp_path, base(server_name=name)).server_name == name


@pytest.mark.parametrize("value", ["50Q", "-1", "ten megabytes", "1.5M", True])
def test_bad_size(tmp_path, value):
    assert_bad(tmp_path, base(max_upload_size=value), "max_upload_size", match="size")


@pytest.mark.parametrize("value", ["5 days", "1x", "-5m", 1.5, "h"])
def test_bad_duration(tmp_path, value):
    assert_bad(tmp_path, base(session_lifetime=value), "session_lifetime", match="duration")


# -- listeners ------------------------------------------------------------------------------------

@pytest.mark.parametrize("listener,key", [
    ({"port": "8008"}, "listeners[0].port"),
    ({"port": 70000}, "listeners[0].port"),
    ({"type": "http"}, "listeners[0].port"),
    ({"port": 8008, "type": "https"}, "listeners[0].type"),
    ({"port": 8008, "bind_addresses": ["localhost"]}, "listeners[0].bind_addresses[0]"),
    ({"port": 8008, "resources": [{"names": ["clients"]}]}, "listeners[0].resources[0].names"),
    ({"port": 8008, "resources": {"names": ["client"]}}, "listeners[0].resources"),
    ({"port": 8008, "tls": "no"}, "listeners[0].tls"),
    ("8008", "listeners[0]"),
])
def test_bad_listener(tmp_path, listener, key):
    assert_bad(tmp_path, base(listeners=[listener]), key)


def test_second_listener_is_named_by_index(tmp_path):
    good = {"port": 8008, "resources": [{"names": ["client"]}]}
    assert_bad(tmp_path, base(listeners=[good, {"port": 9093, "resources": [{"names": ["replicaton"]}]}]),
               "listeners[1].resources[0].names", match="replicaton")


def test_listeners_must_be_a_list(tmp_path):
    assert_bad(tmp_path, base(listeners={"port": 8008}), "listeners")


def test_listeners_parsed(tmp_path):
    cfg = load(tmp_path, base(listeners=[
        {"port": 8008, "bind_addresses": ["::1", "127.0.0.1"], "type": "http", "x_forwarded": True,
         "resources": [{"names": ["client", "federation"], "compress": False}]},
        {"port": 9093, "bind_addresses": ["127.0.0.1"], "resources": [{"names": ["replication"]}]},
    ]))
    assert cfg.listeners[0].resources == ("client", "federation") and cfg.listeners[0].x_forwarded
    assert cfg.listeners[1].resources == ("replication",)


# -- worker topology ------------------------------------------------------------------------------

def test_stream_writers_typo(tmp_path):
    assert_bad(tmp_path, scaled(stream_writers={"typin": "typing1"}), "stream_writers.typin",
               match="unknown stream")


def test_single_writer_stream_with_two_writers(tmp_path):
    assert_bad(tmp_path, scaled(stream_writers={"typing": ["typing1", "persister1"]}), "stream_writers.typing",
               match="only one writer")


def test_events_may_have_several_writers(tmp_path):
    cfg = load(tmp_path, scaled(stream_writers={"events": ["persister1", "persister2"], "typing": "typing1"}))
    assert cfg.workers.writers_of("events") == ("persister1", "persister2")
    assert cfg.workers.writers_of("typing") == ("typing1",)
    assert cfg.workers.writers_of("receipts") == ("main",)
    assert cfg.workers.writes("receipts")  # this process is main


def test_writer_listed_twice(tmp_path):
    assert_bad(tmp_path, scaled(stream_writers={"events": ["persister1", "persister1"]}), "stream_writers.events",
               match="twice")


def test_stream_writers_wrong_type(tmp_path):
    assert_bad(tmp_path, scaled(stream_writers={"events": {"persister1": 1}}), "stream_writers.events")
    assert_bad(tmp_path, scaled(stream_writers=["events"]), "stream_writers")


def test_writer_not_in_instance_map(tmp_path):
    assert_bad(tmp_path, scaled(stream_writers={"typing": "typing2"}), "stream_writers.typing",
               match="instance_map")


def test_instance_map_needs_main(tmp_path):
    assert_bad(tmp_path, base(instance_map={"w1": {"host": "127.0.0.1", "port": 9094}}), "instance_map",
               match="main")


def test_worker_needs_instance_map(tmp_path):
    assert_bad(tmp_path, base(), "instance_map", worker_yaml=worker("generic1"))


def test_instance_map_entry_needs_port(tmp_path):
    assert_bad(tmp_path, scaled(instance_map={"main": {"host": "127.0.0.1"}}), "instance_map.main.port")


def test_stream_writer_worker_without_replication_listener(tmp_path):
    shared = scaled(stream_writers={"typing": "typing1"})
    assert_bad(tmp_path, shared, "worker_listeners", worker_yaml=worker("typing1"), match="replication")
    cfg = load(tmp_path, shared, worker("typing1", replication_port=9096))
    assert cfg.workers.instance_name == "typing1" and cfg.workers.writes("typing")
    assert not cfg.is_main


def test_worker_needs_a_name(tmp_path):
    w = worker("x")
    del w["worker_name"]
    assert_bad(tmp_path, scaled(), "worker_name", worker_yaml=w)


def test_main_cannot_be_renamed(tmp_path):
    assert_bad(tmp_path, base(worker_name="primary"), "worker_name")


def test_unknown_worker_app(tmp_path):
    assert_bad(tmp_path, scaled(), "worker_app", worker_yaml=worker("w", worker_app="synapse.app.pusher"))


def test_bad_worker_listener(tmp_path):
    w = worker("generic1")
    w["worker_listeners"][0]["port"] = "8083"
    assert_bad(tmp_path, scaled(), "worker_listeners[0].port", worker_yaml=w)


def test_unknown_key_in_worker_file(tmp_path):
    assert_bad(tmp_path, scaled(), "worker_nmae", worker_yaml={**worker("w"), "worker_nmae": "x"})


def test_worker_keys_lay_over_shared_ones(tmp_path):
    shared = scaled(max_upload_size="10M", enable_media_repo=True, log_level="INFO")
    cfg = load(tmp_path, shared, worker("generic1", log_level="DEBUG", enable_media_repo=False))
    assert cfg.log_level == "DEBUG"
    assert cfg.workers.enable_media_repo is False
    assert cfg.max_upload_size == 10 * 1024 * 1024  # not set by the worker: the shared value stays
    assert cfg.workers.instance_name == "generic1"
    assert cfg.workers.worker_app == "synapse.app.generic_worker"
    assert cfg.workers.instance_map["main"].base_url == "http://127.0.0.1:9093"
    assert [l.port for l in cfg.workers.worker_listeners] == [8083]


def test_error_message_is_readable(tmp_path):
    err = assert_bad(tmp_path, textwrap.dedent("""\
        server_name: example.org
        form_secret: s
        stream_writers:
          typing: [a, b]
        """), "stream_writers.typing")
    assert str(err).startswith("configuration key 'stream_writers.typing': ")


def test_default_room_version_choices_match_the_advertised_versions():
    from apps.discovery.room_versions import KNOWN_ROOM_VERSIONS as advertised
    from hsproject.config.sections import KNOWN_ROOM_VERSIONS

    assert set(KNOWN_ROOM_VERSIONS) == set(advertised)
