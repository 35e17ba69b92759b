from django.apps import AppConfig


class RemoteDeviceListsConfig(AppConfig):
    name = "apps.remote_device_lists"
    label = "remote_device_lists"
    verbose_name = "Remote device lists"
    default_auto_field = "django.db.models.BigAutoField"
