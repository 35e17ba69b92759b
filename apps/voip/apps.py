from django.apps import AppConfig


class VoipConfig(AppConfig):
    name = "apps.voip"
    label = "voip"
    verbose_name = "VoIP"
