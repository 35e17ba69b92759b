"""The ASGI application served by `manage.py runserver` and by gunicorn's uvicorn worker.

Async endpoints (long-polls) share a few threads for Django's thread-sensitive work instead of holding
one each while they wait (`apps.sync.asgi`)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hsproject.settings")

django_application = get_asgi_application()

from apps.sync.asgi import share_threads_for_async_routes  # noqa: E402  (needs the apps loaded)

application = share_threads_for_async_routes(django_application)

from apps.streams.replication import start_at_process_start  # noqa: E402

start_at_process_start()

from apps.core import process_start  # noqa: E402

process_start.run_all()
