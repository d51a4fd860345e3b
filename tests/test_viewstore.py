"""The view stores take every document the folds make, whatever text the events hold."""

import json
from typing import Any

from resilience import Engine
from resilience.adapters.viewstore import ViewRow, dumps

# A lone surrogate (valid in JSON, not in UTF-8: no command accepts one now, but a store
# written before validation may hold one), NUL and other control characters
# (PostgreSQL's text refuses NUL), and CJK text.
AWKWARD = "东湖\ud800 fire\x00 \udfff\x01 end"


def _doc(note: str) -> dict[str, Any]:
    return {"kind": "incident", "community": "c-1", "at": 1_700_000_000.0,
            "facts": [{"note": note, note: [note]}]}


def test_dumps_keeps_utf8_text_and_escapes_only_what_utf8_cannot_hold() -> None:
    plain = dumps(_doc("东湖 fire"))
    assert "东湖" in plain  # not escaped: readable and compact
    awkward = dumps(_doc(AWKWARD))
    awkward.encode("utf-8")  # encodable, so every store takes it
    assert "\x00" not in awkward
    assert json.loads(awkward) == _doc(AWKWARD)
    assert json.loads(plain) == _doc("东湖 fire")


def test_every_store_writes_and_reads_back_awkward_text(engine: Engine) -> None:
    """Through the memory, SQLite and PostgreSQL view stores, inserted then updated."""
    store = engine.views.store
    view = engine.views.stored_names["timelines"]
    docs = {"awkward": _doc(AWKWARD), "plain": _doc("东湖"), "nul": _doc("\x00")}
    rows = [ViewRow(view, key, doc["kind"], doc["community"], doc["at"], dumps(doc))
            for key, doc in docs.items()]
    store.commit(rows, expected=store.mark(), position=1)
    found = store.fetch(view, list(docs))
    assert {key: json.loads(row.doc) for key, row in found.items()} == docs
    selected = {row.key: json.loads(row.doc) for row in store.select(view, "incident",
                                                                     community="c-1")}
    assert selected == docs
    assert store.mark()[1] == 1
    # A second write of the same documents (an update, not an insert) is taken too.
    store.commit(rows, expected=store.mark(), position=2)
    assert store.mark()[1] == 2
