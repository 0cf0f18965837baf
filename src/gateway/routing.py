"""Path routing: patterns with `{name}` (one segment) and `{name:path}` (the rest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .errors import method_not_allowed, not_found

Handler = Callable[..., Awaitable[Any]]

_PARAM = re.compile(r"\{(\w+)(?::(path))?\}")


def _compile(pattern: str) -> re.Pattern[str]:
    regex, pos = "", 0
    for match in _PARAM.finditer(pattern):
        regex += re.escape(pattern[pos : match.start()])
        name, kind = match.groups()
        regex += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        pos = match.end()
    regex += re.escape(pattern[pos:])
    # DOTALL: a path parameter may hold any decoded character, newlines included.
    return re.compile(f"^{regex}/?$", re.DOTALL)


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: str
    handler: Handler
    # Public routes are served without any credential (health, stored files).
    public: bool = False
    # The credential check, `(request, settings) -> credential` (maybe awaitable) raising 401 (403
    # on DeepL's routes); None means the API key, so a route is never open by omission.
    auth: Callable[..., None] | None = None
    # How its errors are rendered, `(ApiError) -> Response`; None means OpenAI's envelope.
    errors: Callable[..., Any] | None = None

    def __post_init__(self):
        object.__setattr__(self, "_regex", _compile(self.pattern))

    def match(self, path: str) -> dict[str, str] | None:
        found = self._regex.match(path)  # type: ignore[attr-defined]
        return found.groupdict() if found else None


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    def __init__(self, routes: list[Route]):
        self.routes = routes
        # Paths without parameters, with and without the trailing slash, to the routes that fit
        # them: a lookup instead of trying every pattern (unless a parameter route fits too).
        self._static: dict[str, list[Route]] = {}
        for route in routes:
            if "{" not in route.pattern:
                for path in (route.pattern, route.pattern.rstrip("/") + "/"):
                    self._static.setdefault(path, [])
                    if route not in self._static[path]:
                        self._static[path].append(route)
        for path in list(self._static):
            if any("{" in r.pattern and r.match(path) is not None for r in routes):
                del self._static[path]

    def routes_for(self, path: str) -> list[Route]:
        return [route for route in self.routes if route.match(path) is not None]

    def resolve(self, method: str, path: str) -> Match:
        """The route for this method and path; 404 when no pattern fits, 405 (with Allow) when only the method is wrong."""
        allowed: list[str] = []
        static = self._static.get(path)
        for route in static if static is not None else self.routes:
            params = {} if static is not None else route.match(path)
            if params is None:
                continue
            if method in route.methods or (method == "HEAD" and "GET" in route.methods):
                return Match(route, params)
            allowed.extend(m for m in route.methods if m not in allowed)
        if allowed:
            if "GET" in allowed and "HEAD" not in allowed:
                allowed.append("HEAD")
            allowed.append("OPTIONS")
            raise method_not_allowed(method, allowed)
        raise not_found(f"Unknown path {path}.", code="unknown_path")
