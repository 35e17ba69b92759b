"""The unsubscribe link of notification emails (apps.push_delivery.email): not a spec endpoint; a mail
client opens it (GET) or posts to it (RFC 8058 one-click, `List-Unsubscribe-Post`)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint

from . import email, stores


class UnsubscribeView(Endpoint):
    """GET/POST /_matrix/client/unstable/pushers/remove?token=..."""

    operation_id = "pusher_email_unsubscribe"

    def handle(self, request: HttpRequest, **kwargs) -> HttpResponse:
        token = request.GET.get("token") or request.POST.get("token") or ""
        pusher = email.read_unsubscribe_token(token)
        if pusher is None:
            raise MatrixError(Codes.INVALID_PARAM, "This unsubscribe link is not valid", 400)
        stores.delete_pusher(*pusher)
        from django.conf import settings

        return HttpResponse(render_to_string("push_delivery/unsubscribed.html",
                                             {"app_name": settings.HS.email.app_name, "address": pusher[2]}),
                            content_type="text/html; charset=utf-8")
