from django.apps import AppConfig


class AdminApiConfig(AppConfig):
    name = "apps.admin_api"
    label = "admin_api"
