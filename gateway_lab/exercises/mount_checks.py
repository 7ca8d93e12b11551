"""Checks for 17: mounting an app under a path prefix, in WSGI and in ASGI.

The mounted apps are the checker's own: they answer with what they saw
(SCRIPT_NAME and PATH_INFO; root_path and path), so each check compares that
with what PEP 3333 and the ASGI spec say a mounted app must see.
"""

from __future__ import annotations

from ..request import Request
from .bridge_checks import COMPAT, LESSON_BRIDGES
from .core import asgi as run_asgi
from .core import call, doing, exercise, expect, fact, need, wsgi

TEXT = "text/plain; charset=utf-8"
WSGI_RULE = ("PEP 3333 §environ Variables (after RFC 3875 §4.1.13, §4.1.5): SCRIPT_NAME is "
             "where the app is mounted, PATH_INFO the rest of the path; together they are the "
             "whole path")
ASGI_RULE = (f"ASGI HTTP spec §HTTP Connection Scope: root_path is “the root path this "
             f"application is mounted at”; {COMPAT}: PATH_INFO is path with root_path "
             "stripped, so path keeps the whole path")
SEGMENT_RULE = ("RFC 3986 §3.3: a path is made of segments; /apix is not under /api "
                "(werkzeug's DispatcherMiddleware and Starlette's Mount match whole segments)")


def _seen_wsgi(environ, start_response):
    text = f"SCRIPT_NAME={environ.get('SCRIPT_NAME')!r} PATH_INFO={environ.get('PATH_INFO')!r}"
    start_response("200 OK", [("Content-Type", TEXT)])
    return [text.encode("latin-1")]


async def _seen_asgi(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"root_path={scope.get('root_path')!r} "
                                                      f"path={scope['path']!r}"})
        await send({"type": "websocket.close", "code": 1000})
        return
    text = f"root_path={scope.get('root_path')!r} path={scope['path']!r}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", TEXT.encode())]})
    await send({"type": "http.response.body", "body": text.encode()})


def _wsgi_body(script_name: str, path_info: str) -> str:
    return f"SCRIPT_NAME={script_name!r} PATH_INFO={path_info!r}"


def _asgi_body(root_path: str, path: str) -> str:
    return f"root_path={root_path!r} path={path!r}"


@exercise("17_mounting", "mount an app under a prefix: SCRIPT_NAME/PATH_INFO and root_path",
          LESSON_BRIDGES, hints=[
    "WSGI: mount_wsgi('/api', app) returns a WSGI app. If PATH_INFO is '/api' or starts with "
    "'/api/', call app with a copy of the environ where SCRIPT_NAME += '/api' and PATH_INFO "
    "loses its first 4 characters; else answer 404 Not Found yourself.",
    "ASGI: mount_asgi('/api', app) compares the path *inside* the current mount, "
    "scope['path'][len(scope.get('root_path', '')):], with the prefix, and calls app with "
    "{**scope, 'root_path': scope.get('root_path', '') + '/api'}: path itself stays whole.",
    "Match whole segments: '/apix' is not under '/api'. '/api' alone is under it, with "
    "PATH_INFO '' (not '/'). Keep what the server gave you: SCRIPT_NAME and root_path may "
    "already hold a prefix of the server's, and your prefix goes after it.",
])
def check_17(module):
    mount_wsgi = need(module, "mount_wsgi", "mount_wsgi(prefix, app) -> a WSGI app")
    mount_asgi = need(module, "mount_asgi", "mount_asgi(prefix, app) -> an ASGI app")
    app = call(mount_wsgi, "/api", _seen_wsgi, what="mount_wsgi('/api', app)")
    cases = [
        ("WSGI: GET /api/items reaches the app as SCRIPT_NAME '/api', PATH_INFO '/items'",
         Request("GET", "/api/items?x=1"), {}, _wsgi_body("/api", "/items"), ""),
        ("WSGI: GET /api is the mount point itself: PATH_INFO ''", Request("GET", "/api"), {},
         _wsgi_body("/api", ""), ""),
        ("WSGI: a server that mounts everything at /site: SCRIPT_NAME '/site/api'",
         Request("GET", "/site/api/items"), {"script_name": "/site"},
         _wsgi_body("/site/api", "/items"),
         "(the server gives SCRIPT_NAME='/site', PATH_INFO='/api/items')"),
        ("WSGI: a percent-encoded path stays as the server decoded it",
         Request("GET", "/api/caf%C3%A9"), {}, _wsgi_body("/api", "/caf\xc3\xa9"), ""),
    ]
    for title, request, options, body, note in cases:
        ex = wsgi(app, request, **options)
        yield expect(title, ex, status=200, body=body.encode("latin-1"), note=note,
                     rule=WSGI_RULE,
                     hint="environ = dict(environ, SCRIPT_NAME=environ.get('SCRIPT_NAME', '') "
                          "+ prefix, PATH_INFO=path_info[len(prefix):])")
    for target in ("/apix", "/other"):
        ex = wsgi(app, Request("GET", target))
        yield expect(f"WSGI: GET {target} is not under /api: 404", ex, status=404,
                     rule=SEGMENT_RULE,
                     hint="path_info == prefix or path_info.startswith(prefix + '/')")
    nested = call(mount_wsgi, "/a", call(mount_wsgi, "/b", _seen_wsgi, what="mount_wsgi"),
                  what="mount_wsgi")
    ex = wsgi(nested, Request("GET", "/a/b/c"))
    yield expect("WSGI: two mounts, /a then /b: SCRIPT_NAME '/a/b', PATH_INFO '/c'", ex,
                 status=200, body=_wsgi_body("/a/b", "/c"), rule=WSGI_RULE,
                 hint="add your prefix to the SCRIPT_NAME you were given")
    yield from _asgi_checks(mount_asgi)


def _asgi_checks(mount_asgi):
    app = call(mount_asgi, "/api", _seen_asgi, what="mount_asgi('/api', app)")
    hint = ("call app({**scope, 'root_path': root_path + prefix}, receive, send), with "
            "scope['path'] unchanged")
    cases = [
        ("ASGI: GET /api/items: root_path '/api', path still '/api/items'",
         Request("GET", "/api/items"), "", _asgi_body("/api", "/api/items"), ""),
        ("ASGI: a server with root_path '/site': root_path '/site/api'",
         Request("GET", "/site/api/items"), "/site", _asgi_body("/site/api", "/site/api/items"),
         "(the server gives root_path='/site', path='/site/api/items')"),
    ]
    for title, request, root_path, body, note in cases:
        ex = run_asgi(app, request, root_path=root_path)
        yield expect(title, ex, status=200, body=body, note=note, rule=ASGI_RULE, hint=hint)
    for target in ("/apix", "/other"):
        ex = run_asgi(app, Request("GET", target))
        yield expect(f"ASGI: GET {target} is not under /api: 404", ex, status=404,
                     rule=SEGMENT_RULE,
                     hint="rest == prefix or rest.startswith(prefix + '/'), with rest the path "
                          "after root_path")
    nested = call(mount_asgi, "/a", call(mount_asgi, "/b", _seen_asgi, what="mount_asgi"),
                  what="mount_asgi")
    ex = run_asgi(nested, Request("GET", "/a/b/c"))
    yield expect("ASGI: two mounts, /a then /b: root_path '/a/b', path '/a/b/c'", ex,
                 status=200, body=_asgi_body("/a/b", "/a/b/c"), rule=ASGI_RULE, hint=hint)
    ex = run_asgi(app, Request.websocket("/api/ws", []))
    want = [_asgi_body("/api", "/api/ws")]
    yield expect("ASGI: a WebSocket under /api is mounted the same way", ex,
                 problems=[None if list(ex.messages) == want else
                           f"expected the mounted app to say {want!r}, got "
                           f"{list(ex.messages)!r}"],
                 rule="ASGI WebSocket spec §Websocket Connection Scope: path and root_path as "
                      "for HTTP", hint="mount every scope that has a path, not only 'http'")
    ex = run_asgi(app, Request.websocket("/other/ws", []))
    yield expect("ASGI: a WebSocket not under /api is refused (HTTP 403), not sent a 404 page",
                 ex, status=403, rule="ASGI WebSocket spec §Close - send event: "
                 "websocket.close before websocket.accept refuses the connection (the client "
                 "sees 403); http.response.* messages do not exist on a websocket scope",
                 hint="for a websocket scope, refuse with await send({'type': "
                      "'websocket.close', 'code': 1000}) instead of the 404 page")
    yield _lifespan_through(mount_asgi)


def _lifespan_through(mount_asgi):
    from ..asgi import lifespan
    from .asgi_more_checks import _lifespan_app

    app = call(mount_asgi, "/api", _lifespan_app, what="mount_asgi('/api', app)")
    doing("lifespan.startup and lifespan.shutdown through your mount", 6.0)
    life = lifespan(app, timeout=3.0)
    ok = life.started and life.stopped and (life.state or {}).get("ready") and not life.findings
    return fact("ASGI: a lifespan scope goes to the mounted app as it is", bool(ok),
                f"startup {'completed' if life.started else 'did not complete'}, shutdown "
                f"{'completed' if life.stopped else 'did not complete'}, state "
                f"{life.state!r}; findings: {[f.message for f in life.findings]}",
                sent="lifespan.startup, lifespan.shutdown (the mounted app sets "
                     "state['ready'])", got=f"state {life.state!r}",
                rule="ASGI lifespan spec: a lifespan scope has no path; the app behind a "
                     "mount still needs its startup and shutdown",
                hint="if scope['type'] not in ('http', 'websocket'): await app(scope, "
                     "receive, send); return")
