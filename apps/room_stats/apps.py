from django.apps import AppConfig


class RoomStatsConfig(AppConfig):
    name = "apps.room_stats"
    label = "room_stats"
    verbose_name = "Room statistics"
