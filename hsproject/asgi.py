"""The ASGI application served by `manage.py runserver` and by gunicorn's uvicorn worker."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hsproject.settings")

application = get_asgi_application()
