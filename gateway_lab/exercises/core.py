"""The machinery every exercise shares: loading a learner's file safely, the
result of one check, the Report, and small helpers the checks are written with.

The checks themselves live in one module per topic (`cgi_checks`,
`wsgi_checks`, `asgi_checks`, ...) and register with `@exercise`.  Each check
function is a generator: it runs the learner's code (always through one of
the helpers below, which put a time limit on it and say what is running) and
yields one CheckResult per thing it checked.
"""

from __future__ import annotations

import hashlib
import html
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..browser import IN_BROWSER, NO_THREADS, why

IMPORT_TIMEOUT = 5.0   # seconds a learner's module may take to import
CALL_TIMEOUT = 5.0     # seconds for one direct call into learner code
RUN_TIMEOUT = 3.0      # seconds for one request through a gateway
KEY_HEADERS = ("content-type", "content-length", "allow", "location", "x-response-time",
               "cache-control")


# -- the result of one check ------------------------------------------------------

@dataclass
class CheckResult:
    """One check: passed or not, why, and what went over the wire.

    A failed check says, in this order: what was sent, what came back, what
    was expected instead (`message`), the rule of the spec behind it (`rule`)
    and the smallest hint that gets a learner moving (`hint`); `--hint N`
    gives the exercise's longer hints.
    """

    title: str
    passed: bool
    message: str = ""             # what was expected and what happened instead
    sent: str = ""                # the request, in short
    got: str = ""                 # the response, in short
    findings: list = field(default_factory=list)   # the spec coach's findings
    timed_out: bool = False       # learner code ran out of time: later checks would too
    rule: str = ""                # the spec's rule this check is about, with its section
    hint: str = ""                # one line: the smallest step towards passing

    def text(self) -> str:
        mark = "✓ PASS" if self.passed else "✗ FAIL"
        lines = [f"{mark}  {self.title}"]
        if self.passed:
            return "\n".join(lines)
        if self.sent:
            lines += _indent("sent: ", self.sent)
        if self.got:
            lines += _indent("got:  ", self.got)
        if self.message:
            lines += ["    " + line for line in self.message.splitlines()]
        if self.rule:
            lines += _indent("rule: ", self.rule)
        if self.hint:
            lines += _indent("hint: ", self.hint)
        for f in self.findings:
            lines.append(f"    coach ✗ {f.rule}: {f.message}")
            lines.append(f"            spec: {f.spec}   hint: {f.hint}")
        return "\n".join(lines)

    def html(self) -> str:
        color = "#2ca02c" if self.passed else "#b00020"
        mark = "✓ PASS" if self.passed else "✗ FAIL"
        parts = [f"<div style='margin:4px 0'><b style='color:{color}'>{mark}</b> "
                 f"{html.escape(self.title)}"]
        if self.passed:
            return parts[0] + "</div>"
        if self.sent or self.got:
            parts.append("<pre style='margin:2px 0 2px 2em'>"
                         + html.escape(("sent: " + self.sent + "\n") if self.sent else "")
                         + html.escape(("got:  " + self.got) if self.got else "") + "</pre>")
        for label, text in (("", self.message), ("rule: ", self.rule), ("hint: ", self.hint)):
            if text:
                parts.append(f"<div style='margin-left:2em;color:{color}'>"
                             f"{'<b>' + label + '</b>' if label else ''}"
                             f"{html.escape(text).replace(chr(10), '<br>')}</div>")
        for f in self.findings:
            parts.append(f"<div style='margin-left:2em;color:#b00020'>coach ✗ <b>"
                         f"{html.escape(f.rule)}</b>: {html.escape(f.message)}<br><small>"
                         f"<a href='{html.escape(f.url)}' target='_blank'>{html.escape(f.spec)}"
                         f"</a> · hint: {html.escape(f.hint)}</small></div>")
        return "".join(parts) + "</div>"

    def to_dict(self) -> dict:
        return {"title": self.title, "passed": self.passed, "message": self.message,
                "sent": self.sent, "got": self.got, "rule": self.rule, "hint": self.hint,
                "timed_out": self.timed_out, "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, data: dict) -> CheckResult:
        from ..findings import Finding

        findings = [Finding(**f) for f in data.get("findings", ())]
        return cls(data["title"], data["passed"], data.get("message", ""),
                   data.get("sent", ""), data.get("got", ""), findings,
                   data.get("timed_out", False), data.get("rule", ""), data.get("hint", ""))


def _indent(label: str, text: str) -> list[str]:
    return ["    " + (label if i == 0 else " " * len(label)) + line
            for i, line in enumerate(text.splitlines())]


# -- exercises -------------------------------------------------------------------

@dataclass
class Exercise:
    name: str
    title: str
    lesson: str                    # the notebook that covers it
    kind: str                      # "module" (imported) or "script" (a CGI script, run)
    hints: list[str]
    run: Callable[..., Iterator[CheckResult]]
    timed: bool = False            # about time: its checks wait on purpose
    needs_threads: str = ""        # why its checks need threads (a browser has none)


EXERCISES: dict[str, Exercise] = {}


def exercise(name: str, title: str, lesson: str, hints: list[str], kind: str = "module",
             timed: bool = False, needs_threads: str = ""):
    """Register the decorated generator of CheckResults as exercise `name`'s checks."""
    def register(fn):
        EXERCISES[name] = Exercise(name, title, lesson, kind, hints, fn, timed, needs_threads)
        return fn
    return register


@dataclass
class Report:
    """Everything `gateway-lab check` prints; a notebook shows it as HTML."""

    exercise: Exercise
    file: Path
    results: list[CheckResult]
    hint_level: int = 0
    output: str = ""               # what the learner's code printed while it was checked
    not_here: str = ""             # why the checks cannot run here (a browser): not a fail

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def status(self) -> str:
        return "not checked here" if self.not_here else \
            "passed" if self.passed else "failed"

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def __bool__(self) -> bool:
        return self.passed

    def _hints(self) -> list[str]:
        return self.exercise.hints[:max(0, self.hint_level)]

    def summary(self) -> str:
        if self.not_here:
            return self.not_here
        n = len(self.results)
        ok = n - len(self.failed)
        if self.passed:
            return f"All {n} checks passed. Compare with solutions/{self.exercise.name}.py."
        more = len(self.exercise.hints) - len(self._hints())
        tip = (f" Stuck? `gateway-lab check {self.exercise.name} --hint "
               f"{len(self._hints()) + 1}` (or gl.check(..., hint={len(self._hints()) + 1}))."
               if more > 0 else "")
        return f"{ok} of {n} checks passed.{tip}"

    def to_dict(self) -> dict:
        first = self.failed[0] if self.failed else None
        return {"name": self.exercise.name, "title": self.exercise.title,
                "file": str(self.file), "status": self.status,
                "failed_check": first.title if first else None,
                "message": first.message if first else "",
                "checks": [r.to_dict() for r in self.results]}

    def __str__(self) -> str:
        ex = self.exercise
        head = f"== {ex.name}: {ex.title} "
        lines = [head.ljust(72, "="), f"file:   {self.file}", f"lesson: {ex.lesson}", ""]
        lines += [r.text() for r in self.results]
        if self.output.strip():
            lines.append("\nyour code printed:")
            lines += ["    " + line for line in self.output.rstrip().splitlines()]
        for i, hint in enumerate(self._hints(), 1):
            lines.append(f"\nhint {i} of {len(ex.hints)}: {hint}")
        lines += ["", self.summary()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<Report {self.exercise.name}: {len(self.results) - len(self.failed)}/"
                f"{len(self.results)} passed>")

    def _repr_html_(self) -> str:
        ex = self.exercise
        color = "#2ca02c" if self.passed else "#555555" if self.not_here else "#b00020"
        hints = "".join(f"<p><b>hint {i} of {len(ex.hints)}:</b> {html.escape(h)}</p>"
                        for i, h in enumerate(self._hints(), 1))
        output = (f"<p>your code printed:</p><pre>{html.escape(self.output.rstrip())}</pre>"
                  if self.output.strip() else "")
        return (f"<div class='gateway-lab-check'><h4>{html.escape(ex.name)}: "
                f"{html.escape(ex.title)}</h4><small>{html.escape(str(self.file))} · lesson "
                f"{html.escape(ex.lesson)}</small>"
                + "".join(r.html() for r in self.results) + output + hints
                + f"<p style='color:{color}'><b>{html.escape(self.summary())}</b></p></div>")


# -- finding and loading the learner's file -----------------------------------------

def find_folder(start: Path | None = None) -> Path | None:
    """The learner's folder: the first of `start` (default: the current directory) and
    its parents that holds an exercises/ folder."""
    here = (start or Path.cwd()).resolve()
    for place in (here, *here.parents):
        if (place / "exercises").is_dir():
            return place
    return None


def find_file(name: str, folder: Path | None = None) -> Path:
    """exercises/NAME.py in `folder`, else in the current directory or one above it,
    else next to the package (a clone of the project)."""
    if folder is not None:
        candidate = Path(folder) / "exercises" / f"{name}.py"
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"cannot find exercises/{name}.py in {folder}")
    here = Path.cwd().resolve()
    places = [here, *here.parents, Path(__file__).resolve().parents[2]]
    for place in places:
        candidate = place / "exercises" / f"{name}.py"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"cannot find exercises/{name}.py in {here} or above it; "
                            "run from the project folder or pass --file PATH")


def fingerprint(source: str) -> str:
    """A file's text, ignoring line endings and trailing spaces, as a short hash:
    equal for a stub and an untouched copy of it on any platform."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(line.rstrip() for line in lines).strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class LoadError(Exception):
    """The learner's file could not be loaded; the message says why, for a learner."""


def describe(error: BaseException, path: Path | None = None) -> str:
    """'ZeroDivisionError: division by zero (line 12 of 03_wsgi_hello.py)'."""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    lab = str(Path(__file__).resolve().parents[1])
    # The learner's own line if we know their file, else the last line outside the lab.
    mine = ([f for f in frames if path is not None and Path(f.filename) == path]
            or [f for f in frames if not f.filename.startswith(lab)] or frames[-1:])
    where = ""
    if mine:
        f = mine[-1]
        where = f" (line {f.lineno} of {Path(f.filename).name}: {(f.line or '').strip()})"
    return f"{type(error).__name__}: {error}{where}"


def compile_file(path: Path):
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LoadError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise LoadError(f"{path} is not UTF-8 text") from None
    try:
        return compile(source, str(path), "exec")
    except SyntaxError as error:
        where = f"line {error.lineno}" + (f", column {error.offset}" if error.offset else "")
        text = (error.text or "").rstrip()
        raise LoadError(f"{path.name} is not valid Python: {error.msg} ({where})"
                        + (f"\n    {text}" if text else "")) from None


def load_module(path: Path, name: str) -> types.ModuleType:
    """Import the learner's file as a fresh module, under a time limit."""
    code = compile_file(path)
    module = types.ModuleType(f"gateway_lab_exercise_{name}")
    module.__file__ = str(path)
    # In sys.modules so dataclasses, pickling and "from __main__"-style tricks work.
    sys.modules[module.__name__] = module
    from .. import sandbox

    doing(f"importing {path.name}", IMPORT_TIMEOUT)
    outcome = sandbox.call(lambda: exec(code, module.__dict__), IMPORT_TIMEOUT)
    if outcome.timed_out:
        raise LoadError(f"importing {path.name} did not finish within {IMPORT_TIMEOUT:g} s: "
                        "is there a loop or a blocking call at module level? Code that runs "
                        "per request belongs inside your app.")
    if outcome.error is not None:
        raise LoadError(f"importing {path.name} raised {describe(outcome.error, path)}")
    return module


def iter_checks(ex: Exercise, path: Path) -> Iterator[CheckResult]:
    """The results of exercise `ex`'s checks on the learner's file `path`, one by one."""
    try:
        if ex.kind == "script":
            compile_file(path)
            target = path
        else:
            target = load_module(path, ex.name)
    except LoadError as error:
        yield CheckResult(f"load {path.name}", False, str(error))
        return
    try:
        for result in ex.run(target):
            yield result
            if result.timed_out:
                # Every later check would wait for the same loop: say so once.
                yield CheckResult(
                    "the remaining checks", False, "not run: your code ran out of time in "
                    "the check above (expected it to answer within "
                    f"{RUN_TIMEOUT:g} s); fix that first")
                return
    except LearnerError as error:
        yield CheckResult("the checks could not go on", False, str(error))
    except Exception as error:  # a failure the checks did not foresee: still a message
        frames = traceback.extract_tb(error.__traceback__)
        if any(Path(f.filename) == path for f in frames):
            message = f"your code made the checker stop: {describe(error, path)}"
        else:
            message = (f"the checker itself failed ({describe(error)}); this is a bug in "
                       "gateway-lab, not in your code: please report it")
        yield CheckResult("the checks could not go on", False, message)


def run_checks(ex: Exercise, path: Path, hint: int = 0) -> Report:
    """Run exercise `ex`'s checks on `path` in this process (see child.py for the
    isolated way `check()` runs them)."""
    path = path.resolve() if path.exists() else path
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if IN_BROWSER and ex.needs_threads:  # a red mark here would be about the page, not you
        return Report(ex, path, [], hint, not_here=why(
            f"exercise {ex.name}'s check", f"{NO_THREADS} ({ex.needs_threads})",
            f"run `gateway-lab check {ex.name}` on your computer "
            "(pip install 'gateway-lab[lab]')"))
    return Report(ex, path, list(iter_checks(ex, path)), hint)


# -- what is running now: for the process that watches the checks (child.py) ---------

_watcher: Callable[[str, float], None] | None = None


def doing(what: str, timeout: float) -> None:
    """Say that learner code is about to run (`what`, for a learner) with `timeout`
    seconds to finish.  When the checks run in a child process, its parent kills
    the child if nothing more is heard by then (plus a grace)."""
    if _watcher is not None:
        _watcher(what, timeout)


# -- helpers the checks are written with ---------------------------------------------

class LearnerError(Exception):
    """Learner code raised, timed out or is missing something; message for a learner."""


def need(module, attr: str, what: str):
    """module.attr, or a LearnerError that says what the exercise expects."""
    if not hasattr(module, attr):
        raise LearnerError(f"your file must define `{attr}`: {what}")
    return getattr(module, attr)


def wsgi(app, request, *, timeout: float | None = None, **options):
    """One request through the lab's WSGI server (`run_wsgi`)."""
    from ..wsgi import run_wsgi

    timeout = RUN_TIMEOUT if timeout is None else timeout
    doing(f"{sent_text(request)} through the WSGI gateway", timeout)
    return run_wsgi(app, request, timeout=timeout, **options)


def asgi(app, request, *, timeout: float | None = None, **options):
    """One request (or a scripted WebSocket) through the lab's ASGI server (`run_asgi`)."""
    try:
        from ..asgi import run_asgi
    except ImportError as error:
        raise LearnerError("the lab's ASGI gateway (gateway_lab.asgi) is not available in this "
                           f"install: {error}") from None
    timeout = RUN_TIMEOUT if timeout is None else timeout
    doing(f"{sent_text(request)} through the ASGI gateway", timeout)
    return run_asgi(app, request, timeout=timeout, **options)


def cgi(script, request, *, timeout: float | None = None, **options):
    """One request through the lab's CGI server (`run_cgi`): a real child process."""
    try:
        from ..cgi import run_cgi
    except ImportError as error:
        raise LearnerError("the lab's CGI gateway (gateway_lab.cgi) is not available in this "
                           f"install: {error}") from None
    timeout = RUN_TIMEOUT if timeout is None else timeout
    doing(f"{sent_text(request)} to your CGI script", timeout)
    return run_cgi(str(script), request, timeout=timeout, **options)


def call(fn, *args, timeout: float = CALL_TIMEOUT, what: str = ""):
    """Call learner code directly (not through a gateway), under a time limit."""
    from .. import sandbox

    label = what or getattr(fn, "__name__", "your code")
    doing(label, timeout)
    outcome = sandbox.call(lambda: fn(*args), timeout)
    return _value(outcome, label, timeout)


def call_async(make_coroutine, *, timeout: float = CALL_TIMEOUT, what: str = ""):
    """Run `make_coroutine()` on a fresh event loop, under a time limit.

    In a notebook the kernel's own loop is running on this thread, where
    asyncio.run() is refused; then the run goes to a sandbox worker thread.
    """
    import asyncio

    from .. import sandbox

    def run():
        return asyncio.run(make_coroutine())

    label = what or getattr(make_coroutine, "__name__", "your code")
    doing(label, timeout)
    if IN_BROWSER:  # no worker thread there: the lab's own loop (asgi/loops.py)
        from ..asgi.loops import run_sync

        return _value(run_sync(make_coroutine, timeout), label, timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        outcome = sandbox.call(run, timeout)
    else:
        outcome = sandbox._call_on_worker(run, timeout)
    return _value(outcome, label, timeout)


def _value(outcome, label: str, timeout: float):
    if outcome.timed_out:  # ends this exercise's checks (iter_checks catches it)
        raise LearnerError(f"{label} did not return within {timeout:g} s")
    if isinstance(outcome.error, LearnerError):  # a check's own verdict, from inside
        raise outcome.error
    if outcome.error is not None:
        raise LearnerError(f"{label} raised {describe(outcome.error)}")
    return outcome.value


def clip(data, limit: int = 160) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def sent_text(request, note: str = "") -> str:
    """'POST /items  [Content-Type: text/plain]  body: 'plum'' and what was unusual."""
    if request is None:
        return note
    out = f"{request.method} {request.target}"
    extra = [f"{k}: {v}" for k, v in request.headers if k.lower() in ("content-type",)]
    if extra:
        out += "  [" + "; ".join(extra) + "]"
    if request.is_websocket:
        out = f"WebSocket {request.target}  client sends {request.messages!r}"
    elif request.body:
        pieces = f" in {len(request.chunks)} chunks" if len(request.chunks) > 1 else ""
        out += f"  body{pieces}: {clip(request.body, 80)!r}"
    return out + (f"\n{note}" if note else "")


def got_text(ex) -> str:
    r = ex.response
    if ex.request is not None and ex.request.is_websocket:
        return f"messages {ex.messages!r}, close code {ex.close_code!r}"
    heads = [f"{k}: {v}" for k, v in r.headers if k.lower() in KEY_HEADERS]
    line = f"{r.status} {r.reason}".rstrip()
    if heads:
        line += "  [" + "; ".join(heads) + "]"
    line += f"\nbody: {clip(r.body)!r}" + ("" if r.complete else "  (connection cut)")
    return line


def expect(title: str, ex, *, status: int | None = None, body: bytes | str | None = None,
           body_has=(), headers: dict | None = None, problems=(), coach: bool = True,
           note: str = "", rule: str = "", hint: str = "") -> CheckResult:
    """Compare an Exchange with what the task asks for; every mismatch is said in words.
    `note` says what was unusual about the request (a server's freedom the check uses)."""
    r = ex.response
    wrong: list[str] = []
    if status is not None and r.status != status:
        wrong.append(f"expected status {status}, got {r.status}")
    if body is not None:
        want = body.encode() if isinstance(body, str) else body
        if r.body != want:
            wrong.append(f"expected the body {clip(want)!r}, got {clip(r.body)!r}")
    for piece in ([body_has] if isinstance(body_has, (str, bytes)) else body_has):
        want = piece.encode() if isinstance(piece, str) else piece
        if want not in r.body:
            wrong.append(f"expected the body to contain {clip(want)!r}")
    for name, value in (headers or {}).items():
        have = r.header(name)
        if have is None:
            wrong.append(f"expected the header {name}, there is none")
        elif callable(value):
            message = value(have)
            if message:
                wrong.append(f"{name}: {have!r}: {message}")
        elif value is not None and have.lower() != value.lower():
            wrong.append(f"expected {name}: {value}, got {name}: {have}")
    wrong += [p for p in problems if p]
    if coach and ex.findings:
        wrong.append(f"the spec coach found {len(ex.findings)} broken rule(s), listed below")
    timed_out = any(f.rule.endswith(".timeout") for f in ex.findings)
    return CheckResult(title, not wrong, "\n".join(wrong), sent_text(ex.request, note),
                       got_text(ex), list(ex.findings), timed_out, rule, hint)


def fact(title: str, ok: bool, message: str, *, sent: str = "", got: str = "",
         rule: str = "", hint: str = "") -> CheckResult:
    """A check that is not one HTTP exchange (a parser's output, a timing, a cleanup)."""
    return CheckResult(title, bool(ok), "" if ok else message, sent, got, rule=rule,
                       hint=hint)


def failed(title: str, error: LearnerError, *, sent: str = "", rule: str = "",
           hint: str = "") -> CheckResult:
    """A check whose learner code raised or ran out of time (a LearnerError)."""
    timed_out = "did not return within" in str(error)
    return CheckResult(title, False, str(error), sent, "", timed_out=timed_out, rule=rule,
                       hint=hint)


# The modules whose @exercise decorators fill EXERCISES, one per topic.
CHECK_MODULES = ("cgi_checks", "wsgi_checks", "asgi_checks", "bridge_checks", "wire_checks",
                 "wsgi_more_checks", "asgi_more_checks", "mount_checks")


def load_checks() -> dict:
    """Import the check modules (once): they register every exercise in EXERCISES.
    Not done at import time, so `gateway-lab check` can start its child process first
    and let both Pythons import at the same time."""
    from importlib import import_module

    for module in CHECK_MODULES:  # after the first time, a look-up in sys.modules
        import_module(f"{__package__}.{module}")
    return EXERCISES
