"""asgi rules: filled in by the asgi gateway."""

from ..findings import Rule  # noqa: F401

RULES: list = []
