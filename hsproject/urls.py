"""URLconf: the routing table's rows, then the Django admin (the operator's console)."""
from django.contrib import admin
from django.urls import path

from hsproject import routing

admin.site.site_header = "hsproject administration"
admin.site.site_title = "hsproject"

urlpatterns = routing.django_urlpatterns() + [path("admin/", admin.site.urls)]
