"""PDU format checks per room version: required keys, field types, sizes, identifiers, counts, and
strict canonical JSON from v6."""
import pytest

from apps.rooms.event_format import EventFormatError, check_pdu_format
from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS, V1, V2, V3, V4, V5, V6, V10, V11, V12

ALL = list(KNOWN_ROOM_VERSIONS.values())


def pdu_for(rv, **changes):
    if rv.event_format == 1:
        pdu = {"event_id": "$e1:a.example", "prev_events": [["$p:a.example", {"sha256": "h"}]],
               "auth_events": [["$c:a.example", {"sha256": "h"}]]}
    else:
        pdu = {"prev_events": ["$p"], "auth_events": ["$c"]}
    pdu.update({
        "type": "m.room.message", "sender": "@alice:a.example",
        "room_id": "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ" if rv.room_id_from_create_event else "!r:a.example",
        "content": {"body": "hi"}, "origin_server_ts": 1_700_000_000_000, "depth": 3,
        "hashes": {"sha256": "abc"}, "signatures": {"a.example": {"ed25519:1": "sig"}},
        "unsigned": {"age": 4},
    })
    for k, v in changes.items():
        if v is DELETE:
            pdu.pop(k, None)
        else:
            pdu[k] = v
    return pdu


DELETE = object()


def bad(rv, match=None, **changes):
    with pytest.raises(EventFormatError, match=match) as e:
        check_pdu_format(pdu_for(rv, **changes), rv)
    assert e.value.errcode == "M_BAD_JSON"
    return e.value


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: f"v{rv.identifier}")
def test_valid_event_passes(rv):
    check_pdu_format(pdu_for(rv), rv)
    check_pdu_format(pdu_for(rv, state_key="", type="m.room.name", unsigned=DELETE), rv)


@pytest.mark.parametrize("rv", ALL, ids=lambda rv: f"v{rv.identifier}")
@pytest.mark.parametrize("key", ["type", "sender", "origin_server_ts", "content", "depth", "hashes",
                                 "signatures", "prev_events", "auth_events", "room_id"])
def test_required_keys(rv, key):
    bad(rv, f"Missing key '{key}'", **{key: DELETE})


def test_event_id_required_only_v1_v2():
    for rv in (V1, V2):
        bad(rv, "event_id", event_id=DELETE)
    for rv in (V3, V4, V12):
        check_pdu_format(pdu_for(rv), rv)  # no event_id


def test_origin_not_required():
    for rv in ALL:
        check_pdu_format(pdu_for(rv, origin=DELETE), rv)


def test_v12_create_event_has_no_room_id():
    create = pdu_for(V12, type="m.room.create", state_key="", room_id=DELETE, prev_events=[], auth_events=[])
    check_pdu_format(create, V12)
    # Before v12 a create event names its room.
    with pytest.raises(EventFormatError, match="room_id"):
        check_pdu_format(pdu_for(V11, type="m.room.create", state_key="", room_id=DELETE), V11)
    # A v12 create that has a room_id is for the auth rules to reject (rule 1.2), not the format.
    check_pdu_format(dict(create, room_id="!x"), V12)


@pytest.mark.parametrize("key, value", [
    ("type", 5), ("sender", None), ("state_key", 0), ("room_id", ["!r:a"]), ("origin_server_ts", "1"),
    ("origin_server_ts", 1.0), ("origin_server_ts", True), ("depth", "3"), ("depth", True), ("content", []),
    ("content", "x"), ("hashes", []), ("hashes", {}), ("hashes", {"sha256": 1}), ("signatures", []),
    ("signatures", {"a.example": "sig"}), ("signatures", {"a.example": {"ed25519:1": 5}}),
    ("unsigned", []), ("prev_events", {}), ("auth_events", "$c"), ("prev_events", [5]),
    ("auth_events", [["$c:a", {}]]), ("redacts", 5),
])
def test_field_types(key, value):
    bad(V10, **{key: value})


def test_redacts_type_not_checked_from_v11():
    check_pdu_format(pdu_for(V11, redacts=5), V11)


def test_v1_event_references_are_pairs():
    check_pdu_format(pdu_for(V1), V1)
    bad(V1, "pairs", prev_events=["$p:a.example"])
    bad(V1, "pairs", auth_events=[["$c:a.example"]])
    bad(V1, "prev_events", prev_events=[[5, {}]])


@pytest.mark.parametrize("rv", [V1, V4, V12], ids=lambda rv: f"v{rv.identifier}")
def test_reference_counts(rv):
    ref = (lambda i: [f"$e{i}:a", {"sha256": "h"}]) if rv.event_format == 1 else (lambda i: f"$e{i}")
    check_pdu_format(pdu_for(rv, prev_events=[ref(i) for i in range(20)], auth_events=[ref(i) for i in range(10)]), rv)
    bad(rv, "more than 20", prev_events=[ref(i) for i in range(21)])
    bad(rv, "more than 10", auth_events=[ref(i) for i in range(11)])


@pytest.mark.parametrize("sender", ["alice:a.example", "@alice", "@:a.example", "@alice:", "@a b:c",
                                    "", "#room:a"])
def test_sender_must_be_user_id(sender):
    bad(V10, "sender", sender=sender)


def test_historical_sender_accepted():
    check_pdu_format(pdu_for(V1, sender="@Alice_Old!:a.example"), V1)


@pytest.mark.parametrize("room_id", ["r:a.example", "$r:a.example", "!", "!r", "!r:"])
def test_room_id_syntax_before_v12(room_id):
    bad(V10, "room_id", room_id=room_id)


def test_room_id_without_domain_from_v12():
    check_pdu_format(pdu_for(V12, room_id="!abc"), V12)
    bad(V12, "room_id", room_id="abc")
    bad(V11, "domain", room_id="!abc")


@pytest.mark.parametrize("key", ["type", "state_key", "room_id", "sender"])
def test_255_byte_limits(key):
    prefix = {"type": "", "state_key": "", "room_id": "!", "sender": "@"}[key]
    suffix = {"type": "", "state_key": "", "room_id": ":a.example", "sender": ":a.example"}[key]
    fill = 255 - len(prefix) - len(suffix)
    check_pdu_format(pdu_for(V10, **{key: prefix + "x" * fill + suffix}), V10)
    err = bad(V10, "255 bytes", **{key: prefix + "x" * (fill + 1) + suffix})
    assert not err.persist_as_rejected


def test_byte_not_codepoint_limit_and_legacy_flag():
    # 200 two-byte characters: 400 bytes, 200 code points. Over the spec's limit, but Synapse used to
    # accept it, so the error says the event should be stored as rejected rather than dropped.
    err = bad(V10, "state_key", state_key="é" * 200)
    assert err.persist_as_rejected


def test_event_id_limits():
    bad(V1, "event_id", event_id="$" + "x" * 250 + ":a.example")
    bad(V1, "event_id", event_id="e1:a.example")
    bad(V1, "domain", event_id="$e1")
    bad(V4, "prev_events", prev_events=["$" + "x" * 255])
    bad(V4, "prev_events", prev_events=["p"])


@pytest.mark.parametrize("rv", [V1, V6], ids=lambda rv: f"v{rv.identifier}")
def test_whole_event_size(rv):
    pdu = pdu_for(rv)
    base = len(__import__("canonicaljson").encode_canonical_json(pdu))
    pdu["content"]["pad"] = "x" * (65536 - base - len(',"pad":""'))
    check_pdu_format(pdu, rv)
    pdu["content"]["pad"] += "x"
    with pytest.raises(EventFormatError, match="65536"):
        check_pdu_format(pdu, rv)


def test_signatures_count_toward_size():
    pdu = pdu_for(V10)
    pdu["signatures"] = {f"s{i}.example": {"ed25519:1": "x" * 86} for i in range(700)}
    with pytest.raises(EventFormatError, match="65536"):
        check_pdu_format(pdu, V10)


@pytest.mark.parametrize("depth, ok_v5, ok_v6", [
    (0, True, True), (-1, False, False), (2**53 - 1, True, True), (2**53, True, False),
    (2**63 - 1, True, False), (2**63, False, False),
])
def test_depth_bounds(depth, ok_v5, ok_v6):
    for rv, ok in ((V5, ok_v5), (V6, ok_v6)):
        if ok:
            check_pdu_format(pdu_for(rv, depth=depth), rv)
        else:
            bad(rv, "depth", depth=depth)


@pytest.mark.parametrize("where", ["content", "unsigned", "top"])
@pytest.mark.parametrize("value, strict_ok", [(2**53 - 1, True), (-(2**53) + 1, True), (2**53, False),
                                              (-(2**53), False), (1.5, False), (1.0, False)])
def test_strict_canonical_json_from_v6(where, value, strict_ok):
    def make(rv):
        if where == "content":
            return pdu_for(rv, content={"nested": [{"n": value}]})
        if where == "unsigned":
            return pdu_for(rv, unsigned={"x": value})
        return pdu_for(rv, custom=value)

    for rv in (V1, V4, V5):  # not enforced before v6
        check_pdu_format(make(rv), rv)
    for rv in (V6, V10, V12):
        if strict_ok:
            check_pdu_format(make(rv), rv)
        else:
            with pytest.raises(EventFormatError, match="canonical JSON range|Float"):
                check_pdu_format(make(rv), rv)


def test_origin_server_ts_out_of_range_strict():
    bad(V6, "canonical JSON", origin_server_ts=2**53)
    check_pdu_format(pdu_for(V5, origin_server_ts=2**53), V5)


def test_non_finite_numbers_rejected_everywhere():
    for rv in (V1, V6):
        with pytest.raises(EventFormatError):
            check_pdu_format(pdu_for(rv, content={"x": float("nan")}), rv)


def test_not_an_object():
    with pytest.raises(EventFormatError):
        check_pdu_format(["not", "an", "event"], V10)
