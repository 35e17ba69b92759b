from django.apps import AppConfig


class MutualRoomsConfig(AppConfig):
    name = "apps.mutual_rooms"
    label = "mutual_rooms"
    verbose_name = "Mutual rooms"
