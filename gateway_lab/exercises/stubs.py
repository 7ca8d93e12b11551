"""Fingerprints of the exercise stubs as shipped (core.fingerprint of each file), so
`gateway-lab check` can tell a file nobody has touched yet ("not started") from one a
learner has changed.

tests/test_exercises.py compares them with exercises/*.py.  After changing a stub,
print the new table and paste it here:

    python -c "from gateway_lab.exercises.stubs import table; print(table())"
"""

STUBS = {
    "01_cgi_hello": "5a0bda6ae54e2b6e",
    "02_cgi_form": "8fac234271aaa6cd",
    "03_wsgi_hello": "32cb423dbc7761dc",
    "04_wsgi_router": "faef44d3ea441f78",
    "05_wsgi_middleware": "9b12b5db8ce18dca",
    "06_wsgi_streaming": "3d8be0003f939872",
    "07_asgi_hello": "ca27b4841f45e28d",
    "08_asgi_body": "77a5966d8981061b",
    "09_asgi_lifespan": "5abb1e931c69811c",
    "10_asgi_websocket": "5a93fe9b981e2d27",
    "11_asgi_blocking": "fcc2018d471ca585",
    "12_wsgi_to_asgi": "ba791dea03f78ceb",
    "13_scgi": "a973c3c1f1d3264f",
    "14_starlette_port": "89b9f3ebfc09e18d",
    "15_wsgi_errors": "834559dbdb8c2ccc",
    "16_asgi_middleware": "1e8e9ffd49034b41",
    "17_mounting": "25406b3bf1a3ca9d",
    "18_thread_safe": "0ec8c4be14cfc6b3",
    "19_sse": "fd6b2c678d8e7110",
    "20_fastcgi": "395b2b417a66dee6",
}


def table() -> str:
    from pathlib import Path

    from .core import fingerprint

    root = Path(__file__).resolve().parents[2] / "exercises"
    rows = [f'    "{p.stem}": "{fingerprint(p.read_text(encoding="utf-8"))}",'
            for p in sorted(root.glob("[0-9][0-9]_*.py"))]
    return "STUBS = {\n" + "\n".join(rows) + "\n}"
