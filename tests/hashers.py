"""Argon2 with tiny costs for the test suites: the same algorithm and code path as production
(Django's Argon2PasswordHasher), without spending a tenth of a second on every registration."""
from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 256
    parallelism = 1
