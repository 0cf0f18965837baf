"""Token ids → text (`tokens.decode_ids`): what each form of ids becomes, and the limits that keep a
request's decoded text inside the heap bound (docs/limits-and-security.md, Limits). Expected texts are tiktoken's own
(cl100k_base), written out here, never produced by the code under test."""

from __future__ import annotations

import asyncio

import pytest

from gateway import tokens
from gateway.errors import ApiError
from gateway.platform import TokenIds

HELLO_WORLD = [9906, 1917, 0]  # "Hello world!"
SPACES_128 = 58040  # cl100k_base's longest token: 128 spaces


def decode(value, param="input"):
    return asyncio.run(tokens.decode_ids(value, param))


def refused(value, param="input") -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode(value, param)
    return caught.value


def test_ids_become_their_text_and_lists_of_ids_a_list_of_texts():
    assert decode(HELLO_WORLD) == "Hello world!"
    assert decode([15339, 1917]) == "hello world"
    assert decode([[15339], [1917], HELLO_WORLD]) == ["hello", " world", "Hello world!"]


def test_the_first_and_last_ids_of_the_vocabulary():
    assert decode([0]) == "!"
    assert decode([100255]) == " Conveyor"  # the last ordinary token in cl100k_base.tiktoken


def test_the_longest_token_bounds_what_an_id_can_cost():
    assert decode([SPACES_128]) == " " * 128 and tokens.MAX_ID_BYTES == 128


def test_tokens_that_are_not_text_on_their_own_are_listed_for_the_runtime():
    # 9468 is F0 9F (half of 👋), 239 is 0x91; 9906 "Hello" is text. 782 in all (the generator's count).
    listed = set(tokens.not_text())
    assert {9468, 239} <= listed and 9906 not in listed and len(listed) == 782


def test_special_tokens_decode_to_their_names():
    assert decode([100257]) == "<|endoftext|>"
    assert decode([100276, 100258]) == "<|endofprompt|><|fim_prefix|>"


def test_a_character_split_over_two_tokens_is_put_back_together():
    # 👋 is F0 9F 91 8B: cl100k_base spells it with three tokens, the first two bytes, then one byte each.
    assert decode([9468, 239, 233]) == "👋"
    assert decode([9468]) == "\ufffd"  # half a character on its own: replaced, as tiktoken's decode does


def test_other_values_are_returned_as_they_are():
    for value in ("text", ["a", "b"], [], [True, 1], [1, "a"], [[1], "a"], None, {"a": 1}, [[]]):
        assert decode(value) == value


def test_an_id_outside_the_vocabulary_is_a_400_naming_the_field():
    for ids in ([100256], [100261], [100_277], [200_000], [9906, -1]):
        error = refused(ids, "prompt")
        assert (error.status, error.code, error.param) == (400, "invalid_token_ids", "prompt")
        assert str(ids[-1]) in str(error)


def test_at_most_300_000_ids_in_all():
    assert len(decode([220] * 300_000)) == 300_000
    error = refused([220] * 300_001)
    assert (error.status, error.param) == (400, "input") and "300001" in str(error)
    error = refused([[220] * 150_000, [220] * 150_001])
    assert error.status == 400 and "300001" in str(error)


def test_at_most_2048_lists():
    assert len(decode([[220]] * 2048)) == 2048
    error = refused([[220]] * 2049)
    assert error.status == 400 and "2049" in str(error)


def test_decoded_text_is_capped_at_2_mib_in_all():
    # 16 384 × 128 spaces is exactly 2 097 152 bytes: allowed; one more space is not.
    assert len(decode([SPACES_128] * 16_384)) == 2_097_152
    error = refused([SPACES_128] * 16_384 + [220])
    assert (error.status, error.code, error.param) == (413, "request_too_large", "input")
    assert "2097152" in str(error)
    # The cap is for the whole value, not per list.
    assert refused([[SPACES_128] * 10_000, [SPACES_128] * 6_385]).status == 413
    # 300 000 ids of the longest token (38 MB of text) are refused, not built.
    assert refused([SPACES_128] * 300_000).status == 413


class Kept(TokenIds):
    """Ids a runtime kept: records what the core asked of it."""

    def __init__(self, ids, sequences, texts):
        self.ids, self.sequences, self._texts, self.asked = ids, sequences, texts, []

    async def texts(self, param, max_bytes):
        self.asked.append((param, max_bytes))
        return self._texts


def test_ids_the_runtime_kept_are_decoded_by_it_with_the_same_limits():
    one = Kept(5, None, ["hello"])
    assert decode(one, "prompt") == "hello" and one.asked == [("prompt", 2_097_152)]
    several = Kept(5, 2, ["a", "b"])
    assert decode(several) == ["a", "b"]
    for kept in (Kept(300_001, None, ["x"]), Kept(10, 2049, ["x"] * 2049)):
        assert refused(kept).status == 400 and kept.asked == []
