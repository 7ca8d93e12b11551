"""cgi rules: filled in by the cgi gateway."""

from ..findings import Rule  # noqa: F401

RULES: list = []
