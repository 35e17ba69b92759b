"""Registration files (`app_service_config_files`): parsed at start-up, every mistake a ConfigError
naming the file and the field (spec: application-service API, "Registration")."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hsproject.config import ConfigError
from hsproject.config.appservices import load_registrations
from hsproject.config.sections import build

GOOD = {
    "id": "IRC Bridge",
    "url": "http://127.0.0.1:1234",
    "as_token": "30c05ae90a248a4188e620216fa72e349803310ec83e2a77b34fe90be6081f46",
    "hs_token": "312df522183efd404ec1cd22d2ffa4bbc76a8c1ccf541dd692eef281356bb74e",
    "sender_localpart": "_irc_bot",
    "namespaces": {"users": [{"exclusive": True, "regex": "@_irc_bridge_.*"}],
                   "aliases": [{"exclusive": False, "regex": "#_irc_bridge_.*"}], "rooms": []},
}


def write(tmp_path: Path, *regs, name="reg") -> list[str]:
    paths = []
    for i, reg in enumerate(regs):
        p = tmp_path / f"{name}{i}.yaml"
        p.write_text(yaml.safe_dump(reg) if not isinstance(reg, str) else reg)
        paths.append(str(p))
    return paths


def test_the_spec_example_parses(tmp_path):
    [reg] = load_registrations(write(tmp_path, GOOD))
    assert (reg.id, reg.url, reg.sender_localpart) == ("IRC Bridge", "http://127.0.0.1:1234", "_irc_bot")
    assert reg.rate_limited is True and reg.receive_ephemeral is False and reg.protocols == ()
    assert reg.users[0].exclusive and reg.users[0].matches("@_irc_bridge_bob:example.org")
    assert not reg.users[0].matches("@bob:example.org")
    assert not reg.aliases[0].exclusive and reg.rooms == ()
    assert reg.sender("example.org") == "@_irc_bot:example.org"


def test_optional_fields(tmp_path):
    [reg] = load_registrations(write(tmp_path, {**GOOD, "url": None, "rate_limited": False, "protocols": ["irc"],
                                                "de.sorunome.msc2409.push_ephemeral": True}))
    assert reg.url is None and reg.rate_limited is False and reg.protocols == ("irc",) and reg.receive_ephemeral
    [reg] = load_registrations(write(tmp_path, {**GOOD, "receive_ephemeral": True, "url": "http://h:1/base/"}))
    assert reg.receive_ephemeral and reg.url == "http://h:1/base"


@pytest.mark.parametrize("change, field, words", [
    ({"id": None}, "id", "required"),
    ({"as_token": ""}, "as_token", "non-empty"),
    ({"hs_token": 5}, "hs_token", "string"),
    ({"sender_localpart": "Bad Name"}, "sender_localpart", "localpart"),
    ({"url": "ftp://x"}, "url", "http"),
    ({"namespaces": None}, "namespaces", "required"),
    ({"namespaces": {"people": []}}, "namespaces.people", "unknown"),
    ({"namespaces": {"users": [{"exclusive": True, "regex": "@_irc_("}]}}, "namespaces.users[0].regex",
     "regular expression"),
    ({"namespaces": {"users": [{"regex": "@x"}]}}, "namespaces.users[0].exclusive", "true or false"),
    ({"namespaces": {"aliases": [{"exclusive": True}]}}, "namespaces.aliases[0].regex", "required"),
    ({"namespaces": {"rooms": "!x"}}, "namespaces.rooms", "list"),
    ({"rate_limited": "no"}, "rate_limited", "true or false"),
    ({"protocols": "irc"}, "protocols", "list"),
    ({"colour": "blue"}, "colour", "unknown"),
])
def test_mistakes_name_the_file_and_field(tmp_path, change, field, words):
    [path] = write(tmp_path, {**GOOD, **change})
    with pytest.raises(ConfigError) as e:
        load_registrations([path])
    assert e.value.key == f"app_service_config_files[{path}].{field}"
    assert words in e.value.message


def test_url_must_be_present_even_if_null(tmp_path):
    reg = dict(GOOD)
    del reg["url"]
    with pytest.raises(ConfigError, match=r"\.url'.*null"):
        load_registrations(write(tmp_path, reg))


@pytest.mark.parametrize("field", ["id", "as_token", "hs_token", "sender_localpart"])
def test_duplicates_across_files(tmp_path, field):
    other = {**GOOD, "id": "other", "as_token": "a2", "hs_token": "h2", "sender_localpart": "_other",
             field: GOOD[field]}
    paths = write(tmp_path, GOOD, other)
    with pytest.raises(ConfigError) as e:
        load_registrations(paths)
    assert e.value.key == f"app_service_config_files[{paths[1]}].{field}" and paths[0] in e.value.message


def test_a_token_may_not_serve_both_ways(tmp_path):
    other = {**GOOD, "id": "other", "as_token": "a2", "hs_token": GOOD["as_token"], "sender_localpart": "_other"}
    with pytest.raises(ConfigError, match="hs_token"):
        load_registrations(write(tmp_path, GOOD, other))


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_registrations([str(tmp_path / "missing.yaml")])
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_registrations(write(tmp_path, "id: [unclosed"))
    with pytest.raises(ConfigError, match="mapping"):
        load_registrations(write(tmp_path, "- a list"))


def test_the_homeserver_config_loads_them_at_start_up(tmp_path):
    paths = write(tmp_path, GOOD)
    cfg = build({"server_name": "example.org", "form_secret": "s", "app_service_config_files": paths},
                embedded=False, data_directory=tmp_path)
    assert [s.id for s in cfg.app_services] == ["IRC Bridge"]
    with pytest.raises(ConfigError):
        build({"server_name": "example.org", "form_secret": "s",
               "app_service_config_files": write(tmp_path, {**GOOD, "id": None}, name="bad")},
              embedded=False, data_directory=tmp_path)
