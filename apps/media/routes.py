"""Routing-table rows of the media repository (see hsproject/routing.py).

All rows are `serves="media"`: a `synapse.app.media_repository` instance (or main, with
`enable_media_repo`) takes them, as Synapse's worker guide routes `/_matrix/media/` and
`/_matrix/client/v1/media/`. `preview_url` is routed always, but answers 404 M_UNRECOGNIZED while
`url_preview_enabled` is off, as Synapse (which does not register it then) does.
"""
from hsproject.routing import Route

from . import views, views_federation

# Synapse serves the media API under r0, v3 and v1 alike.
MEDIA = "(?:r0|v3|v1)"
IDS = "(?P<server_name>[^/]+)/(?P<media_id>[^/]+)"

ROUTES = [
    Route(f"^/_matrix/media/{MEDIA}/upload$", POST=views.UploadContent, serves="media"),
    Route(f"^/_matrix/media/{MEDIA}/upload/{IDS}$", PUT=views.UploadContentToMXC, serves="media"),
    Route("^/_matrix/media/v1/create$", POST=views.CreateContent, serves="media"),
    # authenticated media (spec v1.11)
    Route(f"^/_matrix/client/v1/media/download/{IDS}$", GET=views.GetContentAuthed, serves="media"),
    Route(f"^/_matrix/client/v1/media/download/{IDS}/(?P<file_name>[^/]+)$",
          GET=views.GetContentOverrideNameAuthed, serves="media"),
    Route(f"^/_matrix/client/v1/media/thumbnail/{IDS}$", GET=views.GetContentThumbnailAuthed, serves="media"),
    Route("^/_matrix/client/v1/media/config$", GET=views.GetConfigAuthed, serves="media"),
    Route("^/_matrix/client/v1/media/preview_url$", GET=views.GetUrlPreviewAuthed, serves="media"),
    # deprecated, unauthenticated
    Route(f"^/_matrix/media/{MEDIA}/download/{IDS}$", GET=views.GetContent, serves="media"),
    Route(f"^/_matrix/media/{MEDIA}/download/{IDS}/(?P<file_name>[^/]+)$",
          GET=views.GetContentOverrideName, serves="media"),
    Route(f"^/_matrix/media/{MEDIA}/thumbnail/{IDS}$", GET=views.GetContentThumbnail, serves="media"),
    Route(f"^/_matrix/media/{MEDIA}/config$", GET=views.GetConfig, serves="media"),
    Route(f"^/_matrix/media/{MEDIA}/preview_url$", GET=views.GetUrlPreview, serves="media"),
    # federation (signed requests of other servers; spec v1.11)
    Route("^/_matrix/federation/v1/media/download/(?P<media_id>[^/]+)$",
          GET=views_federation.FederationGetContent, serves="media"),
    Route("^/_matrix/federation/v1/media/thumbnail/(?P<media_id>[^/]+)$",
          GET=views_federation.FederationGetContentThumbnail, serves="media"),
]
