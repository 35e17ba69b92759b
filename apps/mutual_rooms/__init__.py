"""Mutual rooms: the rooms the requesting user shares with another user (client-server API, "Mutual
Rooms", GET /_matrix/client/v1/mutual_rooms). Reads RoomMembership (apps.rooms); no tables of its own."""
