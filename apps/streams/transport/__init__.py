"""Replication transports: the same `publish`/`subscribe` interface in-process and over Redis."""
from .base import Message, Transport

__all__ = ["Message", "Transport"]
