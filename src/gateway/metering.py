"""One request's spending, and the one path every Workers AI call takes.

`app.handle` gives every request a `Meter` and hands its handlers a platform whose `ai` is a
`MeteredAi` wrapped around the binding: there is no other way to reach the model, so no route, no
credential form and no context a handler builds (the completions and Responses routes answer through
the chat handler) can make an unmetered call. For each call, `MeteredAi.run`:

1. counts it against the request's call cap (`request_caps.RequestCaps`: 400 past it, 499 once the client left);
2. before the first call, has the runtime keep the request alive (`waitUntil`) until its settlement
   is written, so a client that leaves is still charged;
3. for a key with a daily cap (KEY_BUDGETS), reserves the most the call can cost (`pricing.bound`)
   in the ledger, one conditional write: refused, the call is not made (429 `budget_exhausted`, 456 on
   the DeepL routes); the database failing, it is not made either (503: budgets fail closed);
4. makes the call (within AI_TIMEOUT_SECONDS) and settles its cost: from the answer (the model's
   usage, or the text), from the stream's last chunk when a chat stream ends (`MeteredStream`), from
   the inputs for images and speech; a call whose outcome is unknown (a timeout, a stream never seen
   to end) costs its bound.
When the handler has answered and every stream has ended, the request's spending is written in one
statement (`ledger.settle`), which also releases its reservations. README: "Budgets".
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from . import ids, ledger, pricing
from .request_caps import RequestCaps
from .errors import ApiError, UpstreamError, internal_error
from .sse import SseParser
from .usage import seconds_to_midnight

# How long the settlement waits for a stream nobody reported the end of before charging its bound.
# Streams end on their own: the relay's watchdog ends a silent one after AI_TIMEOUT_SECONDS.
SETTLE_DEADLINE_SECONDS = 900.0
# Bytes of a passed-through stream's end read for its usage (the last chunk carries it).
STREAM_TAIL_BYTES = 8192
# Bytes of such a stream read into Python at a time when it carries no usage (its text is counted).
STREAM_SLICE_BYTES = 64 * 1024
# Workers AI error codes after which the call may have run (and been billed): its bound is charged.
# Every other code means the call was refused before it ran (invalid input, capacity, quota).
MAY_HAVE_RUN_CODES = frozenset((3007,))


@dataclass
class ModelUse:
    requests: int = 1
    ai_calls: int = 0
    neurons: float = 0.0
    cache_hits: int = 0
    neurons_saved: float = 0.0
    characters: int = 0

    def row(self, model: str) -> tuple:
        return (model, self.requests, self.ai_calls, round(self.neurons, 6), self.cache_hits,
                round(self.neurons_saved, 6), self.characters)


@dataclass(eq=False)  # one call is itself, not every call that looks like it
class Call:
    """One Workers AI call: what it may cost at most (`bound`, known lazily) and what it cost."""

    model: str
    inputs: dict
    audio_bytes: int | None = None
    settled: bool = False
    _bound: float | None = None

    @property
    def bound(self) -> float:
        if self._bound is None:
            self._bound = pricing.bound(self.model, self.inputs, audio_bytes=self.audio_bytes)
        return self._bound


def budget_exhausted(cap: float, spent: float, held: float, need: float, epoch: float) -> ApiError:
    left = max(0.0, cap - spent - held)
    return ApiError(
        429,
        f"This key's daily budget of {cap:g} neurons does not cover this call: it has spent {spent:.1f} "
        f"today, requests in flight hold {held:.1f}, and this call may cost up to {need:.1f} "
        f"({left:.1f} left). Lower max_tokens, or wait until the budget resets at 00:00 UTC.",
        type="insufficient_quota",
        code="budget_exhausted",
        headers={"Retry-After": str(seconds_to_midnight(epoch)), "X-Should-Retry": "false"},
        quota=True,
    )


def character_limit_reached(limit: int, used: int, need: int) -> ApiError:
    return ApiError(
        456,
        f"Quota exceeded: this key has translated {used} of its {limit} characters this month "
        f"(DEEPL_CHARACTER_LIMIT) and this request has {need}.",
        code="character_limit_reached",
        quota=True,
    )


def limits_need_database() -> ApiError:
    return ApiError(503, "This key has a limit (KEY_BUDGETS or DEEPL_CHARACTER_LIMIT), but the worker has no USAGE_DB "
                    "D1 binding to hold it in, so the request was not run (see docs/limits-and-security.md, Budgets).",
                    type="server_error", code="accounting_off")


def accounting_unavailable() -> ApiError:
    return ApiError(503, "The usage database is unavailable, so this key's limits cannot be checked; the request "
                    "was not run. Try again shortly.", type="server_error", code="accounting_unavailable",
                    headers={"Retry-After": "10"})


class Meter:
    """What one request spends, per model; reservations for a key with caps; the settlement."""

    def __init__(self, *, key: str | None, hashed: str | None, day: str, started: float, calls: RequestCaps,
                 database=None, limits: ledger.Limits = ledger.Limits(),
                 keep_alive: Callable[[], Callable[[], None]] | None = None):
        self.key = key
        self.hashed = hashed
        self.day = day
        self.started = started
        self.calls = calls  # the per-request call and fetch caps (request_caps.py)
        self.database = database
        self.limits = limits
        self.keep_alive = keep_alive
        self.models: dict[str, ModelUse] = {}
        self.id = ids.hex_id(32)
        self._reservations = 0
        self._held = False  # some reservation was made: the settlement must release it
        self._prepaid = 0.0  # neurons reserved ahead for the request's next calls
        self._open: list[Call] = []
        self._tails: list[tuple[Call, Awaitable]] = []
        self._held_alive = False  # the runtime keeps the request alive for its settlement
        self._release: Callable[[], None] | None = None  # lets the runtime end the request
        self._done: asyncio.Future | None = None  # made when the handler has answered
        self._settling: asyncio.Future | None = None
        self._deadline: asyncio.TimerHandle | None = None

    @property
    def budgeted(self) -> bool:
        return self.limits.neurons is not None

    @property
    def recording(self) -> bool:
        return self.hashed is not None and self.database is not None

    def use(self, model: str) -> ModelUse:
        use = self.models.get(model)
        if use is None:
            use = self.models[model] = ModelUse()
        return use

    # --- before a call --------------------------------------------------------------------------

    async def open(self, model: str, inputs: dict, *, audio_bytes: int | None = None) -> Call:
        if self.key is None:
            print(f"refused an AI call to {model} on a request without a credential")
            raise internal_error()
        self.calls.spend()  # 400 past MAX_AI_CALLS_PER_REQUEST; 499 once the client has gone
        call = Call(model, inputs, audio_bytes)
        self._hold_request()
        if self.budgeted:
            need = call.bound
            if self._prepaid >= need:
                self._prepaid -= need
            else:
                await self._reserve(need)
        self.use(model).ai_calls += 1
        self._open.append(call)
        return call

    async def prepay(self, calls: list[tuple[str, dict]]) -> None:
        """Reserves the bounds of the request's next calls in one write (a translation's lines, `n`
        images, embedding batches), so they need no write each; refused, each call reserves its own
        and the request stops at the first one refused."""
        if not self.budgeted or len(calls) < 2:
            return
        total = sum(pricing.bound(model, inputs) for model, inputs in calls)
        self._hold_request()
        if await self._hold(neurons=total):
            self._prepaid += total

    async def reserve_characters(self, characters: int) -> None:
        """DeepL's character limit (a month, per key): held before translating, counted when done."""
        if self.limits.characters is None or self.hashed is None:
            return
        self._hold_request()
        if not await self._hold(characters=characters):
            used = await self._read(ledger.characters(self.database, self.hashed, self.day))
            raise character_limit_reached(self.limits.characters, used, characters)

    async def _reserve(self, need: float) -> None:
        if not await self._hold(neurons=need):
            spent, held = await self._read(ledger.spent(self.database, self.hashed, self.day))
            raise budget_exhausted(self.limits.neurons, spent, held, need, self.started)

    async def _hold(self, *, neurons: float = 0.0, characters: int = 0) -> bool:
        if self.database is None:
            raise limits_need_database()  # a cap nobody can hold is not a cap: closed, not open
        self._reservations += 1
        reservation = f"{self.id}:{self._reservations}"
        try:
            held = await ledger.reserve(self.database, reservation, self.hashed, self.day, neurons=neurons,
                                        characters=characters, limits=self.limits)
        except ledger.DatabaseError as error:
            self._held = True  # it may have landed without the answer reaching us: released in any case
            print(f"usage database failed, limited key refused: {error}")
            raise accounting_unavailable() from None
        self._held = self._held or held
        return held

    async def _read(self, pending: Awaitable):
        try:
            return await pending
        except ledger.DatabaseError as error:
            print(f"usage database failed, limited key refused: {error}")
            raise accounting_unavailable() from None

    # --- after a call -----------------------------------------------------------------------------

    def settle(self, call: Call, neurons: float) -> None:
        if call.settled:
            return
        call.settled = True
        self.use(call.model).neurons += max(0.0, neurons)
        if call in self._open:
            self._open.remove(call)
        self._check_done()

    def refused(self, call: Call) -> None:
        """Workers AI refused the call (an error code): it ran nothing and costs nothing."""
        self.settle(call, 0.0)

    def unknown(self, call: Call) -> None:
        """Whether the call ran is not known (a timeout, a call cut short): it costs its bound."""
        self.settle(call, call.bound)

    def hand_on(self, call: Call, copy: Awaitable) -> None:
        """A passed-through stream (while the handler runs): settled from a copy of it, read to its
        end in the runtime."""
        self._open.remove(call)
        self._tails.append((call, copy))

    def cache_hit(self, model: str, saved_neurons: float) -> None:
        use = self.use(model)
        use.cache_hits += 1
        use.neurons_saved += saved_neurons

    def count_characters(self, model: str, characters: int) -> None:
        self.use(model).characters += characters

    # --- the settlement ----------------------------------------------------------------------------

    def answered(self) -> None:
        """The handler returned (its answer may still be streaming: then the settlement waits for the
        streams' ends, no longer than SETTLE_DEADLINE_SECONDS; an answer without one needs no timer)."""
        if not (self.recording and (self.models or self._held)):
            if self._release is not None:
                self._release()  # nothing to write
            return
        self._hold_request()  # a request that read the cache only has not been held yet
        self._done = asyncio.get_event_loop().create_future()
        self._settling = asyncio.ensure_future(self._settle())
        if self._open:
            self._deadline = asyncio.get_event_loop().call_later(SETTLE_DEADLINE_SECONDS, self._expire)
        self._check_done()

    def _expire(self) -> None:
        print(f"{len(self._open)} call(s) never reported an end: charged at their bounds")
        self._finish()

    async def settled(self) -> None:
        """Without the runtime's waitUntil (tests): the settlement, awaited in line when no stream is open."""
        if self._settling is not None and self.keep_alive is None and not self._open and not self._tails:
            await self._settling

    def _check_done(self) -> None:
        if not self._open:
            self._finish()

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
            if self._deadline is not None:
                self._deadline.cancel()

    def _hold_request(self) -> None:
        """Before the request's first call or reservation: the runtime keeps the request alive until
        its settlement is written (waitUntil), so a client that leaves is still charged."""
        if self._held_alive or not self.recording:
            return
        self._held_alive = True
        if self.keep_alive is not None:
            self._release = self.keep_alive()

    async def _settle(self) -> None:
        try:
            await asyncio.sleep(0)  # the answer goes out first
            await self._done
            for call, read in self._tails:
                await self._settle_tail(call, read)
            for call in list(self._open):
                self.unknown(call)
            rows = [use.row(model) for model, use in self.models.items()]
            await ledger.settle(self.database, ledger.settlement(self.id, self.hashed, self.day, rows))
        finally:
            if self._release is not None:
                self._release()

    async def _settle_tail(self, call: Call, pending: Awaitable) -> None:
        try:
            copy = await asyncio.wait_for(pending, SETTLE_DEADLINE_SECONDS)
            cost = pricing.stream_estimate(call.model, call.inputs, stream_usage(copy.tail(STREAM_TAIL_BYTES)),
                                           lambda: completion_chars(copy.slices(STREAM_SLICE_BYTES)))
        except Exception as error:  # noqa: BLE001 - a stream that broke: its bound is charged
            print(f"could not read the end of {call.model}'s stream: {type(error).__name__}: {error}")
            self.unknown(call)
            return
        self.settle(call, cost)


def stream_usage(tail: bytes) -> dict | None:
    """The `usage` of the last event that carries one, in the end of an SSE stream."""
    text = tail.decode("utf-8", errors="ignore")
    for event in reversed(text.split("\n\n")):
        if '"usage"' not in event:
            continue
        try:
            payload = json.loads(event[event.find("data:") + 5:])
        except ValueError:
            continue
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            return payload["usage"]
    return None


def completion_chars(slices) -> int:
    """Characters of text a chat stream carried (content, reasoning, tool-call arguments), for a
    stream that reported no usage."""
    parser, chars = SseParser(), 0
    for data in slices:
        for payload in parser.feed(data):
            chars += _event_chars(payload)
    for payload in parser.close():
        chars += _event_chars(payload)
    return chars


def _event_chars(payload: str) -> int:
    try:
        event = json.loads(payload)
    except ValueError:
        return 0
    if not isinstance(event, dict):
        return 0
    chars = len(event["response"]) if isinstance(event.get("response"), str) else 0
    for choice in event.get("choices") or []:
        delta = (choice.get("delta") or choice.get("message")) if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        for name in ("content", "reasoning_content", "reasoning"):
            if isinstance(delta.get(name), str):
                chars += len(delta[name])
        for call in delta.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                chars += len(function["arguments"])
    return chars


class MeteredStream:
    """A text-generation stream whose cost is known when it ends: the relay reports its usage or
    text (`report`), or `passthrough` hands it on and reads its end in the runtime."""

    def __init__(self, stream, meter: Meter, call: Call):
        self._stream = stream
        self._meter = meter
        self._call = call
        self.handle = stream.handle

    def __aiter__(self):
        return self._stream.__aiter__()

    def report(self, usage, completion_chars: Callable[[], int]) -> None:
        self._meter.settle(self._call, pricing.stream_estimate(self._call.model, self._call.inputs, usage, completion_chars))

    def abandon(self) -> None:
        """The stream will not be read (an answer of the wrong kind): what it cost is not known."""
        self._meter.unknown(self._call)

    def passthrough(self):
        """The stream for the client; a copy of it is read to its end in the runtime for the usage
        (where usage is recorded: otherwise the stream itself, and no copy made)."""
        if not self._meter.recording:
            return self._stream
        client, copy = self._stream.tee()
        self._meter.hand_on(self._call, copy)
        return client


class MeteredAi:
    """The AI binding as handlers see it: every call through `Meter.open` and settled."""

    def __init__(self, binding, meter: Meter, timeout: float):
        self._binding = binding
        self._meter = meter
        self._timeout = timeout

    async def models(self, params: dict | None = None) -> list:
        return await self._binding.models(params)

    async def run(self, model: str, inputs: dict, options: dict | None = None, *, vectors_key: str | None = None,
                  audio_bytes: int | None = None) -> Any:
        meter = self._meter
        if meter.budgeted and pricing.is_text_generation(model) and not pricing.has_output_cap(model, inputs):
            # A model that publishes no default answer length could write past any bound: a budgeted
            # key's call is capped at what it reserves.
            inputs = {**inputs, "max_tokens": pricing.UNSET_OUTPUT_TOKENS}
        call = await meter.open(model, inputs, audio_bytes=audio_bytes)
        gateway = getattr(self._binding, "gateway", None)
        if gateway:
            # Through the configured AI Gateway, its logs telling keys apart by the credential's
            # hash id (the key itself never leaves the worker).
            options = {**(options or {}), "gateway": {**gateway, "metadata": {"key": meter.hashed}}}
        try:
            run = self._binding.run(model, inputs, options, vectors_key=vectors_key)
            result = await (asyncio.wait_for(run, self._timeout) if self._timeout else run)
        except UpstreamError as error:
            if error.code is None or error.code in MAY_HAVE_RUN_CODES:
                meter.unknown(call)
            else:
                meter.refused(call)
            raise
        except BaseException:
            meter.unknown(call)
            raise
        if hasattr(result, "handle"):
            if pricing.is_text_generation(model):
                return MeteredStream(result, meter, call)
            meter.settle(call, pricing.estimate(model, inputs, None, audio_bytes=audio_bytes))
            return result
        try:
            cost = pricing.estimate(model, inputs, result, audio_bytes=audio_bytes)
        except (TypeError, AttributeError, KeyError, IndexError, ValueError):
            # An answer of a shape no model sends is the endpoint's to refuse (502); the call still
            # counts, priced from its inputs alone.
            cost = pricing.estimate(model, inputs, None, audio_bytes=audio_bytes)
        meter.settle(call, cost)
        return result

