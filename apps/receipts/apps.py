from django.apps import AppConfig


class ReceiptsConfig(AppConfig):
    name = "apps.receipts"
    label = "receipts"
    verbose_name = "Receipts"

    def ready(self) -> None:
        # The receipts stream's fetch and notify functions, and the /sync section of m.receipt events.
        from . import streams, sync_sections  # noqa: F401
        # Receipts of other servers' users arrive as m.receipt EDUs.
        from apps.federation.edus import register_edu_handler

        from .handlers import on_receipt_edu
        register_edu_handler("m.receipt", on_receipt_edu)
