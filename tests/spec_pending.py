"""Spec operations not served yet, and the routed operations that are not in the spec.

`tests/test_spec_coverage.py` fails unless every operation of the spec's client-server and
server-server OpenAPI (`matrix-spec/data/api/`) is routed or listed in NOT_YET_IMPLEMENTED, and fails
when a listed operation becomes routed: when you route one, delete its line here.

Entries are `<api>/<operationId>`, `<api>` being the spec's directory (`client-server` or
`server-server`), because seven operationIds exist in both APIs (getContent, getContentThumbnail,
getPublicRooms, queryPublicRooms, getEventByTimestamp, getRoomState, getSpaceHierarchy). A routed view
belongs to `server-server` when its path is under /_matrix/federation/, /_matrix/key/ or is
/.well-known/matrix/server, and to `client-server` otherwise.

Generated once from the spec (grouped by the area that will implement them), then kept by hand.
"""

NOT_YET_IMPLEMENTED: set[str] = {
    # Accounts: 3PIDs, email/MSISDN validation, login tokens, SSO, OAuth metadata, OpenID, admin
    "client-server/add3PID", "client-server/bind3PID", "client-server/delete3pidFromAccount",
    "client-server/generateLoginToken", "client-server/getAccount3PIDs",
    "client-server/getAuthMetadata",
    "client-server/post3PIDs", "client-server/redirectToIdP",
    "client-server/redirectToSSO",
    "client-server/requestTokenTo3PIDEmail", "client-server/requestTokenTo3PIDMSISDN",
    "client-server/requestTokenToRegisterEmail", "client-server/requestTokenToRegisterMSISDN",
    "client-server/requestTokenToResetPasswordEmail", "client-server/requestTokenToResetPasswordMSISDN",
    "client-server/unbind3pidFromAccount",
    # Rooms: creation, membership, state, events, aliases, directory, relations, search, reports
    "client-server/inviteBy3PID",
    # Sync: peeking. GET /events?room_id= is answered by getEvents' view (the routing table has one
    # operationId per path and method), so this entry stays although the behaviour is served.
    "client-server/peekEvents",
    # Discovery: the policy-server well-known file
    "client-server/getWellknownPolicy",
    # Federation: queries, public rooms, hierarchy, devices and keys, media, policy servers
    "server-server/askPolicyServerToSign",
}

# Routed operation ids that are not spec operations: the Synapse-compatible admin API (views there use
# ids like "synapse_admin_register") and operational endpoints.
EXTRA_OPERATIONS: set[str] = {
    "health",  # GET /health, for load balancers
    "replication_persist_event",  # POST /_hs/replication/persist_event/{roomId} (internal, between processes)
    "replication_write_account_data",  # POST /_hs/replication/account_data/write (internal, between processes)
    "replication_write_receipt",  # POST /_hs/replication/receipts/write (internal, between processes)
    "replication_delete_stale_devices",  # POST /_hs/replication/accounts/delete_stale_devices (internal)
    "replication_remote_device_list_change",  # POST /_hs/replication/e2ee/remote_device_list_change (internal)
    "replication_to_device_remote",  # POST /_hs/replication/to_device/remote (internal, between processes)
    "synapse_admin_register_nonce",  # GET /_synapse/admin/v1/register (shared-secret registration nonce)
    "synapse_admin_register",  # POST /_synapse/admin/v1/register (shared-secret registration)
    "pusher_email_unsubscribe",  # GET/POST /_matrix/client/unstable/pushers/remove (notification emails' link)
    "synapse_password_policy",  # GET /_matrix/client/v3/password_policy (Synapse extension, MSC2000)
    "sendJoinV1",  # PUT /_matrix/federation/v1/send_join (deprecated; removed from the spec's OpenAPI)
    "synapse_metrics",  # GET /_synapse/metrics (Prometheus, on a process's metrics listener; never proxied)
    "sendLeaveV1",  # PUT /_matrix/federation/v1/send_leave (deprecated; removed from the spec's OpenAPI)
    "msc4140_get_delayed_events",  # GET /_matrix/client/unstable/org.matrix.msc4140/delayed_events (MSC4140)
    "msc4140_update_delayed_event",  # POST .../org.matrix.msc4140/delayed_events/{delayId} (MSC4140)
    "synapse_admin_purge_history",  # POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}] (a job)
    "synapse_admin_purge_history_status",  # GET /_synapse/admin/v1/purge_history_status/{purgeId}
    "synapse_admin_deactivate_user",  # POST /_synapse/admin/v1/deactivate/{userId} (rooms left in a job)
}
