"""Federation: server signing keys, key publication, the server-server API."""
