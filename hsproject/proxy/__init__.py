"""Reverse-proxy configuration generated from the routing table and the worker topology
(`manage.py generate_proxy_config`): `plan` decides, `nginx` and `haproxy` print."""
