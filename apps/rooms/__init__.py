"""Rooms: room versions, events, auth rules, state resolution, the event pipeline and the room endpoints."""
