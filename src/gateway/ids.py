"""Ids for answers (chatcmpl-…, cmpl-…, resp_…, modr-…, DeepLX's numeric id): unique, not secret.

They come from a PRNG seeded once per isolate from the system's randomness, at the first request
rather than at import (a deploy-time memory snapshot would freeze an import-time seed into every
isolate). `secrets` costs a crypto.getRandomValues crossing per id on Workers; names that must not
be guessable (stored image keys) keep using it.
"""

from __future__ import annotations

import random
import secrets

_generator: list[random.Random] = []


def _random() -> random.Random:
    if not _generator:
        _generator.append(random.Random(secrets.token_bytes(32)))
    return _generator[0]


def hex_id(hex_digits: int) -> str:
    """`hex_digits` random lower-case hex digits."""
    return "%0*x" % (hex_digits, _random().getrandbits(4 * hex_digits))


def below(n: int) -> int:
    """A random integer from 0 to n - 1."""
    return _random().randrange(n)
