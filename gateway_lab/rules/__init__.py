"""The rules each interface's spec sets, as data: one module per interface.

Each module's RULES is a list of `Rule(id, spec, url, message, hint)`; the
gateways cite them by id when an app (or a request) breaks one, and the
trace turns the id into a Finding with `make_finding`.
"""

from __future__ import annotations

from ..findings import Facts, Finding, Rule

_RULES: dict[str, Rule] | None = None


def all_rules() -> dict[str, Rule]:
    """Every rule of every interface, by id (loaded on first use)."""
    global _RULES
    if _RULES is None:
        from . import asgi, cgi, http, sandbox, wsgi

        rules: dict[str, Rule] = {}
        for module in (http, wsgi, asgi, cgi, sandbox):
            for rule in module.RULES:
                assert rule.id not in rules, f"duplicate rule id {rule.id}"
                rules[rule.id] = rule
        _RULES = rules
    return _RULES


def make_finding(rule_id: str, **facts) -> Finding:
    """The Finding for `rule_id`, its message and hint filled with `facts`."""
    rule = all_rules()[rule_id]
    facts = Facts(facts)
    return Finding(rule.id, rule.message.format_map(facts), rule.spec, rule.url,
                   rule.hint.format_map(facts))
