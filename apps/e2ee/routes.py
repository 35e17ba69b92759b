"""Routing-table rows of the e2ee app (see hsproject/routing.py).

Uploads that change device or cross-signing keys write the `device_lists` stream, so they go to its
writer; queries, claims, changes and key backup may be served by any client-serving process (as the
seeds' generic-worker patterns say).
"""
from hsproject.routing import CLIENT_R0, Route

from . import views

_ROOM = "(?P<room_id>[^/]+)"
_SESSION = "(?P<session_id>[^/]+)"

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/upload$", POST=views.UploadKeysView, writes="device_lists",
          balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/query$", POST=views.QueryKeysView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/claim$", POST=views.ClaimKeysView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/changes$", GET=views.GetKeysChangesView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/device_signing/upload$", POST=views.UploadCrossSigningKeysView,
          writes="device_lists", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/keys/signatures/upload$", POST=views.UploadCrossSigningSignaturesView,
          writes="device_lists", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/room_keys/version$", POST=views.RoomKeysVersionView,
          GET=views.GetRoomKeysVersionCurrentView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/room_keys/version/(?P<version>[^/]+)$", GET=views.GetRoomKeysVersionView,
          PUT=views.PutRoomKeysVersionView, DELETE=views.DeleteRoomKeysVersionView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/room_keys/keys$", PUT=views.PutRoomKeysView, GET=views.GetRoomKeysView,
          DELETE=views.DeleteRoomKeysView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/room_keys/keys/{_ROOM}$", PUT=views.PutRoomKeysByRoomIdView,
          GET=views.GetRoomKeysByRoomIdView, DELETE=views.DeleteRoomKeysByRoomIdView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/room_keys/keys/{_ROOM}/{_SESSION}$", PUT=views.PutRoomKeyBySessionIdView,
          GET=views.GetRoomKeyBySessionIdView, DELETE=views.DeleteRoomKeyBySessionIdView, balance="user"),
]

# --- federation (views_federation.py): other servers asking about our users' devices and keys ---------------
from . import views_federation as vf  # noqa: E402  (appended block)
from . import views_replication  # noqa: E402

_FED = "^/_matrix/federation"

ROUTES += [
    Route(f"{_FED}/v1/user/devices/(?P<user_id>[^/]+)$", GET=vf.GetUserDevicesView, serves="federation"),
    Route(f"{_FED}/v1/user/keys/query$", POST=vf.QueryUserEncryptionKeysView, serves="federation"),
    Route(f"{_FED}/v1/user/keys/claim$", POST=vf.ClaimUserEncryptionKeysView, serves="federation"),
    # internal: a federation worker's device-list EDU about a remote user, recorded on the device_lists writer
    Route("^/_hs/replication/e2ee/remote_device_list_change$", POST=views_replication.RecordRemoteDeviceListChangeView,
          serves="replication", writes="device_lists"),
]
