"""Stop sequences: a whole answer cut at the first one, a streamed answer filtered as it comes,
holding back only what could start one."""

from __future__ import annotations


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, str | None]:
    """`text` up to the first stop sequence in it, and that sequence (None when none occurs; of two
    starting at the same place, the longer)."""
    best, found = len(text), None
    for stop in stops:
        at = text.find(stop)
        if 0 <= at < best or (at == best and found is not None and len(stop) > len(found)):
            best, found = at, stop
    return text[:best], found


class StopFilter:
    """Applies stop sequences to streamed text, holding back only what could start one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.held = ""
        self.matched: str | None = None  # the stop sequence that ended the text
        self._keep = max((len(s) for s in stops), default=1) - 1

    @property
    def stopped(self) -> bool:
        return self.matched is not None

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self.held += text
        cut, self.matched = cut_at_stop(self.held, self.stops)
        if self.stopped:
            self.held = ""
            return cut
        ready = len(self.held) - self._keep
        if ready <= 0:
            return ""
        out, self.held = self.held[:ready], self.held[ready:]
        return out

    def flush(self) -> str:
        out, self.held = self.held, ""
        return "" if self.stopped else out
