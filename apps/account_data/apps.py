from django.apps import AppConfig


class AccountDataConfig(AppConfig):
    name = "apps.account_data"
    label = "account_data"

    def ready(self) -> None:
        # The `account_data` stream's fetch and notify functions (every process), and its /sync sections.
        from . import streams, sync  # noqa: F401
