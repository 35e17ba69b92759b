from django.apps import AppConfig


class ReceiptsConfig(AppConfig):
    name = "apps.receipts"
    label = "receipts"
    verbose_name = "Receipts"

    def ready(self) -> None:
        # The receipts stream's fetch and notify functions, and the /sync section of m.receipt events.
        from . import streams, sync_sections  # noqa: F401
