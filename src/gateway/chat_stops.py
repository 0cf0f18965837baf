"""Stop sequences: a whole answer cut at the first one, a streamed answer filtered as it comes,
holding back only what could start one."""

from __future__ import annotations


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopFilter:
    """Applies stop sequences to streamed text, holding back only what could start one."""

    def __init__(self, stops: list[str]):
        self.stops = stops
        self.held = ""
        self.stopped = False
        self._keep = max((len(s) for s in stops), default=1) - 1

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return text
        self.held += text
        cut, self.stopped = cut_at_stop(self.held, self.stops)
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
