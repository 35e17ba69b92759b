"""Settings of a real process: load the homeserver YAML once, stop with the key's name if it is bad."""
import sys

from hsproject.config import ConfigError, load

try:
    HS = load()
    from .base import django_settings

    globals().update(django_settings(HS))
except ConfigError as _e:
    sys.stderr.write(f"hsproject: bad configuration: {_e}\n")
    raise SystemExit(2) from None
