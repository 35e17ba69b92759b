"""Routing-table rows of this app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_ALL, CLIENT_R0, Route

from . import views, views_moderation, views_registration

# Creating, renaming or deleting a device moves the `device_lists` stream (apps.e2ee), which main writes:
# such requests reaching another process are relayed to main (apps.streams.relay).
DEVICES = "device_lists"

ROUTES: list = []

# registration
ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_R0}/register$", POST=views_registration.Register, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/register/available$",
          GET=views_registration.CheckUsernameAvailability),
    Route("^/_matrix/client/v1/register/m.login.registration_token/validity$",
          GET=views_registration.RegistrationTokenValidity),
    Route(f"^/_matrix/client/{CLIENT_R0}/password_policy$", GET=views_registration.PasswordPolicy),
]

# sessions, devices, profile
ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_ALL}/login$", GET=views.GetLoginFlowsView, POST=views.LoginView, balance="ip",
          writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/refresh$", POST=views.RefreshView),
    Route(f"^/_matrix/client/{CLIENT_ALL}/logout$", POST=views.LogoutView, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_ALL}/logout/all$", POST=views.LogoutAllView, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/account/whoami$", GET=views.GetTokenOwnerView),
    Route(f"^/_matrix/client/{CLIENT_R0}/account/password$", POST=views.ChangePasswordView, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/account/deactivate$", POST=views.DeactivateAccountView,
          writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/devices$", GET=views.GetDevicesView),
    Route(f"^/_matrix/client/{CLIENT_R0}/devices/(?P<device_id>[^/]+)$", GET=views.GetDeviceView,
          PUT=views.UpdateDeviceView, DELETE=views.DeleteDeviceView, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_R0}/delete_devices$", POST=views.DeleteDevicesView, writes=DEVICES),
    Route(f"^/_matrix/client/{CLIENT_ALL}/profile/(?P<user_id>[^/]+)$", GET=views.GetUserProfileView),
    Route(f"^/_matrix/client/{CLIENT_ALL}/profile/(?P<user_id>[^/]+)/(?P<key_name>[^/]+)$",
          GET=views.GetProfileFieldView, PUT=views.SetProfileFieldView, DELETE=views.DeleteProfileFieldView),
]

# server administration through the client-server API (a locked account is refused everywhere at once
# because authentication reads the flag from the user's row; no stream to write)
ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_R0}/admin/whois/(?P<user_id>[^/]+)$", GET=views_moderation.GetWhoIsView),
    Route("^/_matrix/client/v1/admin/lock/(?P<user_id>[^/]+)$", GET=views_moderation.GetAdminLockUserView,
          PUT=views_moderation.SetAdminLockUserView),
    Route("^/_matrix/client/v1/admin/suspend/(?P<user_id>[^/]+)$", GET=views_moderation.GetAdminSuspendUserView,
          PUT=views_moderation.SetAdminSuspendUserView),
]

# internal: the device_lists writer's side of the stale-device job (apps.accounts.housekeeping)
from . import views_replication  # noqa: E402  (appended block)

ROUTES += [
    Route("^/_hs/replication/accounts/delete_stale_devices$", POST=views_replication.DeleteStaleDevicesView,
          serves="replication", writes=DEVICES),
]
