"""Routing-table rows of push rules (they write the `push_rules` stream), pushers and notifications."""
from hsproject.routing import CLIENT_ALL, CLIENT_R0, Route

from . import views

_RULE = "pushrules/(?P<scope>[^/]+)/(?P<kind>[^/]+)/(?P<rule_id>[^/]+)"

ROUTES: list = [
    Route(f"^/_matrix/client/{CLIENT_ALL}/pushrules/?$", GET=views.GetPushRulesView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/pushrules/global/?$", GET=views.GetPushRulesGlobalView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/{_RULE}$", GET=views.GetPushRuleView, PUT=views.SetPushRuleView,
          DELETE=views.DeletePushRuleView, writes="push_rules", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/{_RULE}/enabled$", GET=views.IsPushRuleEnabledView,
          PUT=views.SetPushRuleEnabledView, writes="push_rules", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/{_RULE}/actions$", GET=views.GetPushRuleActionsView,
          PUT=views.SetPushRuleActionsView, writes="push_rules", balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/pushers$", GET=views.GetPushersView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_ALL}/pushers/set$", POST=views.PostPusherView, balance="user"),
    Route(f"^/_matrix/client/{CLIENT_R0}/notifications$", GET=views.GetNotificationsView, balance="user"),
]
