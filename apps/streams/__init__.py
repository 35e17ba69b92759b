"""Streams: positions, tokens, replication between processes and the notifier (DESIGN section 4)."""
