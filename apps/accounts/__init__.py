"""Accounts: users, devices, access and refresh tokens, user-interactive auth, login, registration, profiles."""
