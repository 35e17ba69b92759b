"""The thread of an event (client-server API, "Threaded read receipts": the spec's DAG example)."""
from apps.push.threads import MAIN, thread_of_content

# A and B are thread roots; C, E, G, H are in A's thread; D and F in B's (thread relations); I is in
# the main timeline. R is a reaction to E (in A's thread by a non-thread relation), S a reaction to
# the root A (main timeline); X1 and X2 reference R one and two hops further away.
CONTENTS = {
    "$A": {"body": "A"},
    "$B": {"body": "B"},
    "$C": {"m.relates_to": {"rel_type": "m.thread", "event_id": "$A"}},
    "$E": {"m.relates_to": {"rel_type": "m.thread", "event_id": "$A"}},
    "$D": {"m.relates_to": {"rel_type": "m.thread", "event_id": "$B"}},
    "$I": {"body": "I"},
    "$R": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$E", "key": "+1"}},
    "$S": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$A", "key": "+1"}},
    "$X1": {"m.relates_to": {"rel_type": "m.reference", "event_id": "$R"}},
    "$X2": {"m.relates_to": {"rel_type": "m.reference", "event_id": "$X1"}},
}


def thread(eid):
    return thread_of_content(CONTENTS[eid], CONTENTS.get)


def test_threads_of_the_spec_dag():
    assert thread("$A") == MAIN and thread("$B") == MAIN and thread("$I") == MAIN
    assert thread("$C") == "$A" and thread("$E") == "$A" and thread("$D") == "$B"


def test_relations_are_followed_to_a_thread_at_most_three_hops():
    assert thread("$R") == "$A"          # reaction to a thread event: in the thread
    assert thread("$S") == MAIN          # reaction to a root: main timeline
    assert thread("$X1") == "$A"         # X1 -> R -> E(thread A)
    assert thread("$X2") == MAIN         # X2 -> X1 -> R -> E: one hop too many


def test_unknown_parent_is_main():
    assert thread_of_content({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$gone"}},
                             CONTENTS.get) == MAIN
