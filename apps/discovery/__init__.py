"""Discovery: what this server is and supports: /versions, /capabilities, .well-known, /health."""
