"""The numeric ranges of request parameters, per route, and the one check that reads them.

The bounds are OpenAI's (its API description: CreateChatCompletionRequest, CreateCompletionRequest,
CreateResponse), so a value OpenAI refuses is refused here too instead of reaching a model that
would take it silently. Where OpenAI sets no ceiling, the gateway's own keeps a model from being
asked for a million-token answer. A parameter that is absent or null is unset: the default applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import bad_request

# No Workers AI model writes an answer this long; a larger bound is a mistake, not a wish.
MAX_ANSWER_TOKENS = 1_000_000


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    integer: bool = False

    def admits(self, value) -> bool:
        # JSON's true/false are ints to Python, never numbers to OpenAI.
        kind = int if self.integer else (int, float)
        return not isinstance(value, bool) and isinstance(value, kind) and self.low <= value <= self.high

    def describe(self) -> str:
        return f"{'an integer' if self.integer else 'a number'} from {_plain(self.low)} to {_plain(self.high)}"


def _plain(number: float) -> str:
    # 1000000 rather than :g's 1e+06
    return str(int(number)) if float(number).is_integer() else str(number)


_SAMPLING = {
    "temperature": Range(0, 2),
    "top_p": Range(0, 1),
}
_PENALTIES = {
    "frequency_penalty": Range(-2, 2),
    "presence_penalty": Range(-2, 2),
}

CHAT = {
    **_SAMPLING,
    **_PENALTIES,
    "n": Range(1, 128, integer=True),
    "top_logprobs": Range(0, 20, integer=True),
    # OpenAI gives no minimum; an answer of no tokens is no answer.
    "max_completion_tokens": Range(1, MAX_ANSWER_TOKENS, integer=True),
    "max_tokens": Range(1, MAX_ANSWER_TOKENS, integer=True),
    # Narrower than OpenAI's int64: Workers AI's published seed range (contracts.fit moves 0 to its 1).
    "seed": Range(0, 9_999_999_999, integer=True),
    # Workers AI's own sampling parameters, which OpenAI does not define.
    "top_k": Range(1, 50, integer=True),
    "repetition_penalty": Range(0, 2),
}

# /v1/completions passes its parameters to the chat endpoint under the same names: CHAT checks them there.

RESPONSES = {
    **_SAMPLING,
    "top_logprobs": Range(0, 20, integer=True),
    "max_output_tokens": Range(16, MAX_ANSWER_TOKENS, integer=True),
}


def checked(body: dict, ranges: dict[str, Range]) -> dict:
    """The parameters of `body` that `ranges` names and that are set, each within its range; a 400
    naming the first one that is not."""
    values = {}
    for name, allowed in ranges.items():
        value = body.get(name)
        if value is None:
            continue
        if not allowed.admits(value):
            raise bad_request(f"`{name}` must be {allowed.describe()}.", param=name)
        values[name] = value
    return values
