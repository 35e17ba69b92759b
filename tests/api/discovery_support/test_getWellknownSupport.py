"""GET /.well-known/matrix/support (client-server getWellknownSupport): the administrator contact and
support page from `admin_contact` and `support_page`; 404 M_NOT_FOUND when neither is configured."""
from __future__ import annotations

import pytest

from apps.discovery.support import admin_contact
from hsproject.config import ConfigError
from hsproject.config.sections import build
from tests.conftest import assert_error

PATH = "/.well-known/matrix/support"


def test_nothing_configured_is_not_found(mx, settings):
    settings.HS = settings.HS.replace(admin_contact=None, support_page=None)
    assert_error(mx.get(PATH, token=None), 404, "M_NOT_FOUND")
    # A contact the spec cannot carry is no document either.
    settings.HS = settings.HS.replace(admin_contact="https://example.org/contact")
    assert_error(mx.get(PATH, token=None), 404, "M_NOT_FOUND")


def test_admin_contact_and_support_page(mx, settings):
    settings.HS = settings.HS.replace(admin_contact="mailto:admin@example.org",
                                      support_page="https://example.org/support.html")
    resp = mx.get(PATH, token=None)
    assert resp.status_code == 200 and resp["Content-Type"].startswith("application/json")
    assert resp.json_body == {"contacts": [{"email_address": "admin@example.org", "role": "m.role.admin"}],
                              "support_page": "https://example.org/support.html"}
    assert resp["Access-Control-Allow-Origin"] == "*"  # web clients fetch it cross-origin
    assert mx.get(PATH, token="garbage").status_code == 200  # no authentication
    assert_error(mx.post(PATH, {}, token=None), 405, "M_UNRECOGNIZED")


def test_only_one_of_them(mx, settings):
    settings.HS = settings.HS.replace(admin_contact="@admin:elsewhere.example", support_page=None)
    assert mx.get(PATH, token=None).json_body == {
        "contacts": [{"matrix_id": "@admin:elsewhere.example", "role": "m.role.admin"}]}
    settings.HS = settings.HS.replace(admin_contact=None, support_page="http://help.example.org/")
    assert mx.get(PATH, token=None).json_body == {"support_page": "http://help.example.org/"}


@pytest.mark.parametrize("value, contact", [
    ("mailto:admin@example.org", {"email_address": "admin@example.org", "role": "m.role.admin"}),
    ("MAILTO:root@example.org?subject=help", {"email_address": "root@example.org", "role": "m.role.admin"}),
    ("admin@example.org", {"email_address": "admin@example.org", "role": "m.role.admin"}),
    ("@admin:example.org", {"matrix_id": "@admin:example.org", "role": "m.role.admin"}),
    ("@admin:localhost:8448", {"matrix_id": "@admin:localhost:8448", "role": "m.role.admin"}),
    ("https://example.org/contact", None),
    ("+44 20 7946 0000", None),
    ("", None),
    (None, None),
])
def test_admin_contact_forms(value, contact):
    assert admin_contact(value) == contact


def test_support_page_must_be_a_web_address(tmp_path):
    raw = {"server_name": "example.org", "form_secret": "s", "support_page": "ftp://example.org/help"}
    with pytest.raises(ConfigError) as e:
        build(raw, embedded=False, data_directory=tmp_path)
    assert "support_page" in str(e.value)
    raw["support_page"] = "https://example.org/help"
    assert build(raw, embedded=False, data_directory=tmp_path).support_page == raw["support_page"]
