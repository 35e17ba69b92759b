"""WSGI entry point, for tools that need one; production serving is ASGI (`hsproject.asgi`)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hsproject.settings")

application = get_wsgi_application()
