"""The column types' cleaning: what a JSON column stores is what `clean_json` makes of the value, whether
or not the value needed cleaning (`SafeJSON` skips the walk when one pass of the encoder shows nothing to
clean — a shortcut that must never change what is stored)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.store.types import REPLACEMENT, SafeJSON, clean_json

_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy", "😀", "é", "\\u0000", ""]
)
_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _stored(value: Any) -> str:
    return json.dumps(SafeJSON().process_bind_param(value, None))


@settings(max_examples=300, deadline=None)
@given(_json)
def test_a_json_column_stores_what_clean_json_makes(value: Any) -> None:
    assert _stored(value) == json.dumps(clean_json(value))


def test_nul_and_lone_surrogates_are_replaced_and_the_rest_kept() -> None:
    assert SafeJSON().process_bind_param({"a": "x\x00y", "b": ["\ud800"], "c": "😀 é"}, None) == {
        "a": f"x{REPLACEMENT}y",
        "b": [REPLACEMENT],
        "c": "😀 é",
    }
    plain = {"summary": "status: open → pending", "n": 3}
    assert SafeJSON().process_bind_param(plain, None) is plain  # nothing to clean: not walked, not copied
