"""Plumbing shared by every area: Matrix errors, middleware, request ids, access-token auth, ids,
rate limiting and the guarded outbound HTTP client."""
