"""Will this app stop when the server tells it to?  Looking at its code before running it.

The lab stops an app that runs past its time by raising `sandbox.Stopped` in it
(a BaseException, so `except Exception:` lets it through).  Three things in an
app's own code defeat that, and a loop around them never ends; a fourth outlasts it:

* a handler that catches everything and carries on: a bare `except:` or
  `except BaseException:` (PEP 8 §Programming Recommendations warns that a bare
  except also catches KeyboardInterrupt and SystemExit: and the lab's stop);
* a signal handler of its own, or SIGALRM blocked: `signal.signal`,
  `signal.setitimer`, `signal.alarm`, `signal.pthread_sigmask`, ... (the
  lab's stop arrives on SIGALRM on the main thread);
* a handler naming `Stopped` itself;
* `sys.setrecursionlimit(...)`: a runaway recursion then grows a million frames
  deep, and unwinding them takes seconds inside the interpreter, where no
  stop can reach.

A thread cannot be killed, a process can: the gateways run an app with such
code in a child process killed at the deadline (`isolate.py`), and everything
else in-process and fast.  `swallowers(app)` finds that code before the run:

* where: the app function (or a class's `__call__`, a partial's function, a
  bound method's function), every function and lambda nested in it, and the
  functions and classes of the *same module* that it names, followed the same
  way (a generator that the app returns is one of those).  Installed libraries
  (Flask, Django, the standard library) are trusted and not looked at;
* how: from the bytecode, not the source (a notebook cell has no file).  A
  handler begins where the exception table (3.11+) or SETUP_FINALLY (3.10)
  points; its first instructions say what it catches.  From there every path
  of ordinary control flow is followed: a handler whose paths all end in
  `raise` lets the stop through (`except: cleanup(); raise` is fine), one
  with a path to the end of the handler (POP_EXCEPT) swallows it.

What one code object contains never changes (a code object is immutable), so
what is read from it is cached per code object, and the cache is provably
equal to reading it again; what the names *mean* (a global rebound by a later
notebook cell) is looked up again on every call.  An app function whose code
names nothing at all (a hello world) is remembered (`plain`, below): the next
run of it costs two comparisons.

The limits, said plainly: code reached only dynamically (a method looked up
on an object, a function from another module, `exec`, a framework's view
functions registered by decorator) is not seen, nor is a C extension that
loops.  For such code the sandbox escalates on the main thread (see
sandbox.py: once a stop has been swallowed, every line of the app's own code
raises it again) and `isolate=True` runs any app in a process of its own.
"""

from __future__ import annotations

import os
import signal as _signal_module
import sys
import types
from typing import NamedTuple

from .leftovers import _counts, install
from .origin import is_library as _is_library

# Calls that take the lab's stop away, by module: the functions of `signal` (the stop
# is a SIGALRM), and sys.setrecursionlimit: a recursion a million frames deep takes
# seconds to grow and unwind (2 to 4 s on the lab's test machine), and the unwinding
# happens inside the interpreter, where no stop can reach it.
TAKERS = {"signal": frozenset({"signal", "setitimer", "alarm", "pthread_sigmask",
                               "siginterrupt", "sigwait", "sigwaitinfo", "sigtimedwait",
                               "set_wakeup_fd"}),
          "sys": frozenset({"setrecursionlimit"})}
TAKERS["_signal"] = TAKERS["signal"]
_TAKER_NAMES = frozenset().union(*TAKERS.values())
_TAKER_FUNCS = {getattr(module, name): (module.__name__, name)
                for module in (_signal_module, sys) for name in TAKERS[module.__name__]
                if hasattr(module, name)}
SWALLOWS, RECURSES = "sandbox.swallows_stop", "sandbox.recursion_limit"
CATCH_ALL_NAMES = frozenset({"BaseException", "Stopped"})
MAX_WALK = 4000    # instructions followed in one handler before assuming it swallows
MAX_CODES = 200    # code objects followed from one app: enough for any learner's module

_OLD = sys.version_info < (3, 11)  # no exception table: handlers start at SETUP_FINALLY
_JUMPS: frozenset = frozenset()     # filled in with dis, when code is first read
_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FAST", "LOAD_DEREF", "LOAD_ATTR",
                    "LOAD_METHOD", "LOAD_CLASSDEREF", "LOAD_FROM_DICT_OR_GLOBALS",
                    "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR"})
_NAME_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_ATTR_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_ALWAYS = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_ABSOLUTE",
                     "JUMP_BACKWARD_NO_INTERRUPT", "JUMP", "JUMP_NO_INTERRUPT"})
_RAISES = frozenset({"RAISE_VARARGS", "RERAISE"})


class Swallower(NamedTuple):
    """One piece of code that would swallow the server's stop (or outlast it)."""

    what: str      # "a bare `except:`", "`except BaseException`", "a call to signal.signal"
    file: str      # the file's base name ("app.py"; a notebook cell's own name)
    line: int
    rule: str = SWALLOWS  # the finding that says why (RECURSES for setrecursionlimit)

    def __str__(self) -> str:
        if self.file == NOTEBOOK_CELL:
            return f"{self.what} in a notebook cell, line {self.line}"
        return f"{self.what} at {self.file} line {self.line}"


class _Handler(NamedTuple):
    names: tuple[str, ...]   # the names in `except <names>:`; () for a bare except
    line: int


class _Facts(NamedTuple):
    """What one code object (its nested functions included) holds, as read once."""

    handlers: tuple[_Handler, ...]                # handlers that can end without raising
    signal_attrs: tuple[tuple[str, str, int], ...]  # (name, attr, line): `signal.alarm(...)`,
                                                    # `sys.setrecursionlimit(...)` (TAKERS)
    globals: tuple[str, ...]                      # global names it loads, for the next look
    globals_at: tuple[int, ...]                   # the line of each, in the same order
    library: bool                                 # installed code: trusted, not looked into


_CLEAN = _Facts((), (), (), (), False)    # nothing to look at: no handlers, calls, names
_LIBRARY = _Facts((), (), (), (), True)   # installed code: not looked at


# `plain`: the last function found with nothing to look at, and the count of __code__
# changes then.  Reading func.__code__ raises an audit event (PEP 578), which costs
# more than the rest of the look once an audit hook is installed (the lab's is:
# leftovers.py).  A function's answer depends on its code alone when that code names
# nothing, and its code changes only through `func.__code__ = ...`, which the hook
# counts: "the same function, no __code__ assigned since" is the answer reading gives.
class _Plain:
    __slots__ = ("app", "changes")

    def __init__(self):
        self.app = None
        self.changes = -1


plain = _Plain()


# id(code) -> (code, its facts).  Keyed by id, not by the code object: hashing a code
# object hashes its bytecode, every time.  The entry keeps the code object alive, so
# its id cannot be reused while it is there.
_facts: dict[int, tuple[types.CodeType, _Facts]] = {}


def facts(code: types.CodeType) -> _Facts:
    """What `code` holds (cached: see the module docstring)."""
    entry = _facts.get(id(code))
    if entry is None or entry[0] is not code:
        entry = _facts[id(code)] = (code, _read(code))
    return entry[1]


def _read(code: types.CodeType) -> _Facts:
    global _JUMPS
    if _is_library(code.co_filename):
        return _LIBRARY
    import dis

    if not _JUMPS:
        _JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs) | \
            frozenset(getattr(dis, "hasjump", ()))
    instructions = list(dis.get_instructions(code))
    handlers = tuple(h for h in _handlers(instructions) if h is not None)
    signal_attrs, names, lines = [], [], []
    line = code.co_firstlineno
    previous = None
    aliases = {}        # local names bound by `import signal [as s]` inside the function
    importing = None    # between IMPORT_NAME signal (or sys) and the store of what it imported
    for inst in instructions:
        line = _line_of(inst, line)
        name = inst.opname
        if name in _NAME_LOADS and inst.argval not in names:
            names.append(inst.argval)
            lines.append(line)
        elif name in _ATTR_LOADS and inst.argval in _TAKER_NAMES \
                and previous is not None and previous.opname in _LOADS:
            who = aliases.get(previous.argval, previous.argval)
            signal_attrs.append((who, inst.argval, line))
        elif name == "IMPORT_NAME":
            importing = inst.argval if inst.argval in TAKERS else None
        elif name == "IMPORT_FROM" and importing and inst.argval in TAKERS[importing]:
            signal_attrs.append((importing, inst.argval, line))  # from signal import alarm
        elif name.startswith("STORE_") and importing and previous.opname == "IMPORT_NAME":
            aliases[inst.argval] = importing
        previous = inst
    out = _Facts(handlers, tuple(signal_attrs), tuple(names), tuple(lines), False)
    for const in code.co_consts:  # nested functions, lambdas, comprehensions, classes
        if isinstance(const, types.CodeType):
            inner = facts(const)
            out = _Facts(out.handlers + inner.handlers, out.signal_attrs + inner.signal_attrs,
                         out.globals + inner.globals, out.globals_at + inner.globals_at,
                         False)
    if out == _CLEAN:
        return _CLEAN
    return out


def _line_of(inst, line: int) -> int:
    positions = getattr(inst, "positions", None)
    if positions is not None and positions.lineno is not None:
        return positions.lineno
    return inst.starts_line if isinstance(inst.starts_line, int) and \
        not isinstance(inst.starts_line, bool) else line


def _handlers(instructions: list) -> list[_Handler | None]:
    """The except-handlers in `instructions` that can end without re-raising."""
    at = {inst.offset: i for i, inst in enumerate(instructions)}
    if _OLD:
        starts = [at[inst.argval] for inst in instructions
                  if inst.opname == "SETUP_FINALLY" and inst.argval in at]
    else:
        starts = [i + 1 for i, inst in enumerate(instructions) if inst.opname == "PUSH_EXC_INFO"]
    return [_handler(instructions, at, i) for i in starts if i < len(instructions)]


def _handler(instructions: list, at: dict, i: int) -> _Handler | None:
    """The handler whose first instruction (after PUSH_EXC_INFO) is instructions[i]."""
    first = instructions[i]
    line = _line_of(first, 0)
    if _OLD:
        if [inst.opname for inst in instructions[i:i + 3]] == ["POP_TOP"] * 3:
            return _Handler((), line) if _swallows(instructions, at, i + 3) else None
        if first.opname != "DUP_TOP":
            return None  # a finally: block, or a with statement's exit
        i += 1
    elif first.opname == "POP_TOP":  # `except:` drops the exception and goes on
        return _Handler((), line) if _swallows(instructions, at, i + 1) else None
    names = []
    for j in range(i, min(i + 24, len(instructions))):
        inst = instructions[j]
        if inst.opname in ("CHECK_EXC_MATCH", "JUMP_IF_NOT_EXC_MATCH"):
            # The handler's body is where a match goes: past the check (3.11+: past the
            # conditional jump after it; 3.10: the jump itself is the check).
            body = j + 1 if inst.opname == "JUMP_IF_NOT_EXC_MATCH" else j + 2
            if _swallows(instructions, at, body):
                return _Handler(tuple(names), line)
            return None
        if inst.opname in _LOADS:
            names.append(inst.argval)
        elif inst.opname not in ("BUILD_TUPLE", "LOAD_CONST", "NOP", "CACHE", "PRECALL",
                                 "PUSH_NULL", "COPY", "SWAP"):
            return None  # not a simple `except X:`: a finally, with, except* ...
    return None


def _swallows(instructions: list, at: dict, start: int) -> bool:
    """True when a path of ordinary control flow from `start` ends the handler
    (POP_EXCEPT) instead of raising."""
    todo, seen = [start], set()
    while todo:
        i = todo.pop()
        while i < len(instructions) and i not in seen:
            if len(seen) > MAX_WALK:
                return True
            seen.add(i)
            inst = instructions[i]
            name = inst.opname
            if name in _RAISES:
                break
            if name == "POP_EXCEPT" or name.startswith("RETURN"):
                return True
            if inst.opcode in _JUMPS and not name.startswith("SETUP_"):
                target = at.get(inst.argval)
                if name in _ALWAYS:
                    i = target if target is not None else len(instructions)
                    continue
                if target is not None:
                    todo.append(target)
            i += 1
    return False


# -- from an app to the code it runs ---------------------------------------------------

def _roots(app) -> list:
    """The functions a call of `app` starts in."""
    for _ in range(8):  # unwrap partials and bound methods, as calling would
        if isinstance(app, types.FunctionType):
            return [app]
        if isinstance(app, types.MethodType):
            app = app.__func__
            continue
        func = getattr(app, "func", None)  # functools.partial
        if func is not None and hasattr(app, "args") and hasattr(app, "keywords"):
            app = func
            continue
        cls = app if isinstance(app, type) else type(app)
        if _is_library(getattr(sys.modules.get(cls.__module__), "__file__", None) or ""):
            return []  # Flask(), Starlette(): installed code, and what it calls is dynamic
        # A class as the app (its __init__, then the instance), or an object of a class
        # of the learner's own: every method it defines.
        return _methods(cls)
    return []


def _methods(cls: type) -> list:
    """The functions a class defines itself (those of installed code are dropped later)."""
    out = []
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if isinstance(value, types.FunctionType):
            out.append(value)
    return out


def _module_name(func: types.FunctionType) -> str:
    name = func.__globals__.get("__name__", "")
    return name if isinstance(name, str) else ""


NOTEBOOK_CELL = "a notebook cell"


def _file_of(code: types.CodeType) -> str:
    name = code.co_filename
    # ipykernel names a cell's code /tmp/ipykernel_PID/HASH.py; IPython in a terminal
    # <ipython-input-N-HASH>: neither means anything to a learner.
    if "ipykernel_" in name or name.startswith("<ipython-input"):
        return NOTEBOOK_CELL
    if name.startswith("<"):  # exec'd text: "<string>"
        return name
    return os.path.basename(name)


def swallowers(app) -> list[Swallower]:
    """The code `app` can reach (see the module docstring) that would swallow the stop;
    [] for an ordinary app.  An app function with nothing to look at (no handler, no
    call, no global name) costs one dictionary lookup."""
    if app is plain.app and _counts.code_changes == plain.changes:
        return []  # the function of the last call again, with the same code (see above)
    code = getattr(app, "__code__", None)
    if code is not None:
        entry = _facts.get(id(code))
        if entry is not None and entry[0] is code and (entry[1] is _CLEAN or
                                                       entry[1] is _LIBRARY):
            install()  # the hook that counts __code__ changes (once per process)
            plain.app, plain.changes = app, _counts.code_changes
            return []
    out: list[Swallower] = []
    todo = _roots(app)
    done: set[int] = set()
    while todo and len(done) < MAX_CODES:
        func = todo.pop()
        code = func.__code__
        if id(code) in done:
            continue
        done.add(id(code))
        found = facts(code)
        if found is _LIBRARY or found is _CLEAN:
            continue
        out += _judge(func, found)
        _follow(func, found, todo)
    return out


def _judge(func: types.FunctionType, found: _Facts) -> list[Swallower]:
    """The handlers and signal calls of `func`, with their names looked up now."""
    out = []
    space = func.__globals__
    file = _file_of(func.__code__)
    for handler in found.handlers:
        if not handler.names:
            out.append(Swallower("a bare `except:`", file, handler.line))
        elif any(_catches_stop(name, space) for name in handler.names):
            out.append(Swallower(f"`except {', '.join(handler.names)}`", file, handler.line))
    for name, attr, line in found.signal_attrs:
        value = space.get(name)
        module = value.__name__ if isinstance(value, types.ModuleType) else name
        if attr in TAKERS.get(module, ()):
            out.append(_taker(module, attr, file, line))
    for name, line in zip(found.globals, found.globals_at, strict=True):
        taker = _taker_func(space.get(name))
        if taker is not None:
            out.append(_taker(*taker, file, line))
    return out


def _taker(module: str, attr: str, file: str, line: int) -> Swallower:
    if module == "sys":
        return Swallower(f"a call to sys.{attr}()", file, line, RECURSES)
    return Swallower(f"a call to signal.{attr}() (the stop is a SIGALRM)", file, line)


def _catches_stop(name: str, space: dict) -> bool:
    """Does `except <name>` catch sandbox.Stopped?  By its name, or by what it names now."""
    if name in CATCH_ALL_NAMES:
        return True
    value = space.get(name)
    if value is None:
        value = getattr(space.get("__builtins__"), name, None) \
            if not isinstance(space.get("__builtins__"), dict) \
            else space["__builtins__"].get(name)
    from .sandbox import Stopped

    candidates = value if isinstance(value, tuple) else (value,)
    return any(isinstance(c, type) and issubclass(Stopped, c) for c in candidates)


def _taker_func(value) -> tuple[str, str] | None:
    """(module, name) when `value` is one of the TAKERS functions itself."""
    if value is None:
        return None
    try:
        return _TAKER_FUNCS.get(value)
    except TypeError:  # an unhashable global
        return None


def _follow(func: types.FunctionType, found: _Facts, todo: list) -> None:
    """Queue the functions and classes of func's own module that it names."""
    space = func.__globals__
    module = _module_name(func)
    for name in found.globals:
        value = space.get(name)
        if isinstance(value, types.FunctionType):
            if value.__globals__ is space:
                todo.append(value)
        elif isinstance(value, type):
            if getattr(value, "__module__", None) == module:
                todo.extend(_methods(value))
        elif getattr(type(value), "__module__", None) == module and module:
            todo.extend(_methods(type(value)))  # an object of one of its classes
