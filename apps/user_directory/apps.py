from django.apps import AppConfig


class UserDirectoryConfig(AppConfig):
    name = "apps.user_directory"
    label = "user_directory"
