"""The Celery side: queue declarations, routing and task modules (one module per queue)."""
