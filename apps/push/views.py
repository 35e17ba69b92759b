"""Client-server endpoints of push rules, pushers and notifications (one class per spec operationId)."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint, field, json_body, query_int

from . import handlers


class GetPushRulesView(Endpoint):
    """GET /_matrix/client/v3/pushrules/"""

    operation_id = "getPushRules"

    def handle(self, request, **kwargs):
        return handlers.get_all(authenticate(request).user_id)


class GetPushRulesGlobalView(Endpoint):
    """GET /_matrix/client/v3/pushrules/global/"""

    operation_id = "getPushRulesGlobal"

    def handle(self, request, **kwargs):
        return handlers.get_global(authenticate(request).user_id)


class GetPushRuleView(Endpoint):
    """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}"""

    operation_id = "getPushRule"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        return handlers.get_rule(authenticate(request).user_id, scope, kind, rule_id)


class SetPushRuleView(Endpoint):
    """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}"""

    operation_id = "setPushRule"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        handlers.set_rule(requester.user_id, scope, kind, rule_id, body,
                          before=request.GET.get("before"), after=request.GET.get("after"))
        return {}


class DeletePushRuleView(Endpoint):
    """DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}"""

    operation_id = "deletePushRule"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        handlers.delete_rule(authenticate(request).user_id, scope, kind, rule_id)
        return {}


class IsPushRuleEnabledView(Endpoint):
    """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled"""

    operation_id = "isPushRuleEnabled"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        return handlers.get_enabled(authenticate(request).user_id, scope, kind, rule_id)


class SetPushRuleEnabledView(Endpoint):
    """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled"""

    operation_id = "setPushRuleEnabled"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        requester = authenticate(request)
        enabled = field(json_body(request), "enabled", bool, required=True)
        handlers.set_enabled(requester.user_id, scope, kind, rule_id, enabled)
        return {}


class GetPushRuleActionsView(Endpoint):
    """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions"""

    operation_id = "getPushRuleActions"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        return handlers.get_actions(authenticate(request).user_id, scope, kind, rule_id)


class SetPushRuleActionsView(Endpoint):
    """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions"""

    operation_id = "setPushRuleActions"

    def handle(self, request, scope, kind, rule_id, **kwargs):
        requester = authenticate(request)
        body = json_body(request)
        if "actions" not in body:
            raise MatrixError(Codes.MISSING_PARAM, "Missing parameter: actions", 400)
        handlers.set_actions(requester.user_id, scope, kind, rule_id, body["actions"])
        return {}


class GetPushersView(Endpoint):
    """GET /_matrix/client/v3/pushers"""

    operation_id = "getPushers"

    def handle(self, request, **kwargs):
        return handlers.get_pushers(authenticate(request).user_id)


class PostPusherView(Endpoint):
    """POST /_matrix/client/v3/pushers/set"""

    operation_id = "postPusher"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        handlers.set_pusher(requester.user_id, requester.device_id, json_body(request))
        return {}


class GetNotificationsView(Endpoint):
    """GET /_matrix/client/v3/notifications"""

    operation_id = "getNotifications"

    def handle(self, request, **kwargs):
        requester = authenticate(request)
        return handlers.get_notifications(requester, from_token=request.GET.get("from"),
                                          limit=query_int(request, "limit", None, minimum=1),
                                          only=request.GET.get("only"))
