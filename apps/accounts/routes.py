"""Routing-table rows of this app (see hsproject/routing.py)."""
from hsproject.routing import CLIENT_R0, Route

from . import views_registration

ROUTES: list = []

# registration
ROUTES += [
    Route(f"^/_matrix/client/{CLIENT_R0}/register$", POST=views_registration.Register),
    Route(f"^/_matrix/client/{CLIENT_R0}/register/available$",
          GET=views_registration.CheckUsernameAvailability),
    Route("^/_matrix/client/v1/register/m.login.registration_token/validity$",
          GET=views_registration.RegistrationTokenValidity),
    Route(f"^/_matrix/client/{CLIENT_R0}/password_policy$", GET=views_registration.PasswordPolicy),
]
