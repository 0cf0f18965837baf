"""The OpenAPI description covers every route with exactly its methods."""

from __future__ import annotations

import re

from gateway.app import ROUTER
from gateway.openapi import spec


def openapi_path(pattern: str) -> str:
    return re.sub(r"\{(\w+):path\}", r"{\1}", pattern)


def test_every_route_is_described_with_its_methods():
    paths = spec()["paths"]
    routes: dict[str, set[str]] = {}
    for route in ROUTER.routes:
        routes.setdefault(openapi_path(route.pattern), set()).update(m.lower() for m in route.methods)
    assert set(paths) == set(routes)
    for path, methods in routes.items():
        assert set(paths[path]) == methods, path


def test_public_routes_are_the_only_ones_without_security():
    paths = spec()["paths"]
    for route in ROUTER.routes:
        for method in route.methods:
            operation = paths[openapi_path(route.pattern)][method.lower()]
            assert (operation.get("security") == []) == route.public, route.pattern


def test_every_error_names_an_envelope_that_exists():
    document = spec()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.rsplit("/", 1)[1] in schemas, (path, status)
