from django.apps import AppConfig


class OpenIdConfig(AppConfig):
    name = "apps.openid"
    label = "openid"
    verbose_name = "OpenID"
