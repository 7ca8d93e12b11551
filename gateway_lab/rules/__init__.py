"""The rules each interface's spec sets, as data: one module per interface.

Each module's RULES is a list of `Rule(id, spec, url, message, hint)`; the
gateways cite them by id when an app (or a request) breaks one.
"""
