"""`manage.py register_new_user`: create a local account directly in the database.

The counterpart of Synapse's `register_new_matrix_user`, without the HTTP round trip: the same
checks as `POST /register` (username grammar, user in use, password policy). Non-interactive with
`-u NAME -p PASSWORD [-a | --no-admin]`; on a terminal it asks for what is missing.
"""
from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import registration
from apps.accounts.password_policy import check_password_policy
from apps.core.errors import MatrixError


class Command(BaseCommand):
    help = "Register a new local user (as /register would), optionally a server admin."

    def add_arguments(self, parser):
        parser.add_argument("-u", "--user", dest="username", help="Localpart of the new user.")
        parser.add_argument("-p", "--password", help="Password (asked for on a terminal when omitted).")
        admin = parser.add_mutually_exclusive_group()
        admin.add_argument("-a", "--admin", dest="admin", action="store_const", const=True, default=None,
                           help="Make the user a server admin.")
        admin.add_argument("--no-admin", dest="admin", action="store_const", const=False,
                           help="Make a normal user (the default when not on a terminal).")
        parser.add_argument("-t", "--user_type", "--user-type", dest="user_type", default=None,
                            choices=registration.USER_TYPES, help="Optional user type.")
        parser.add_argument("--displayname", default=None, help="Display name (default: the localpart).")

    def handle(self, *args, username=None, password=None, admin=None, user_type=None, displayname=None, **options):
        interactive = sys.stdin.isatty()
        try:
            if username is None:
                if not interactive:
                    raise CommandError("No username given (-u) and stdin is not a terminal")
                username = input("New user localpart: ").strip()
            registration.check_username(username)

            if password is None:
                if not interactive:
                    raise CommandError("No password given (-p) and stdin is not a terminal")
                password = getpass.getpass("Password: ")
                if not password:
                    raise CommandError("Password cannot be empty")
                if getpass.getpass("Confirm password: ") != password:
                    raise CommandError("Passwords do not match")
            check_password_policy(password)

            if admin is None:
                admin = interactive and input("Make admin [no]: ").strip().lower() in ("y", "yes", "true")

            registered = registration.register_user(username, password=password, admin=admin,
                                                    user_type=user_type, displayname=displayname)
        except MatrixError as e:
            raise CommandError(f"{e.errcode}: {e.error}") from None
        kind = "admin" if admin else "user"
        self.stdout.write(f"Registered {kind} {registered.user.user_id}")
