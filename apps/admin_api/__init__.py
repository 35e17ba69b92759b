"""Admin: the Synapse-compatible /_synapse/admin API and the Django admin registrations."""
