"""Rules about running learner code at all, whatever the interface: code that would
swallow the server's stop, and threads and processes an app leaves running.

These are not in PEP 3333 or the ASGI spec: a server hands a request to an
app and expects it back, answered, within its time limit, with nothing of the
request still running afterwards.  A server enforces that from outside: gunicorn
kills a worker process that is silent past its `--timeout` and starts a new one
(its settings docs, §timeout); a thread cannot be killed, a process can.
"""

from ..findings import Rule

PEP8 = "PEP 8 §Programming Recommendations"
PEP8_URL = "https://peps.python.org/pep-0008/#programming-recommendations"
THREADS = "Python docs §threading: Thread objects"
THREADS_URL = "https://docs.python.org/3/library/threading.html#thread-objects"
POPEN = "Python docs §subprocess: Popen objects"
POPEN_URL = "https://docs.python.org/3/library/subprocess.html#popen-objects"
RECURSION = "Python docs §sys.setrecursionlimit"
RECURSION_URL = "https://docs.python.org/3/library/sys.html#sys.setrecursionlimit"
BAD_GATEWAY = "RFC 9110 §15.6.3"
BAD_GATEWAY_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.6.3"

RULES = [
    Rule("sandbox.swallows_stop", PEP8, PEP8_URL,
         "{what} would swallow the server's stop signal (it catches every exception, the "
         "stop included, so a loop around it never ends); {how}",
         "catch only the errors you expect (except ValueError:), or at most `except "
         "Exception:`, which lets the stop through; a handler that cleans up and then "
         "re-raises (`raise`) is fine; an app never installs signal handlers."),
    Rule("sandbox.recursion_limit", RECURSION, RECURSION_URL,
         "{what} lets a runaway recursion grow a million frames deep, and unwinding them "
         "takes seconds inside the interpreter, where no stop reaches; {how}",
         "leave the limit alone (it is the whole process's, the server's included), or "
         "write the recursion as a loop; no request needs more than 1000 nested calls."),
    Rule("sandbox.left_threads", THREADS, THREADS_URL,
         "your app left {n} thread{s} running after it returned ({names}); Python cannot "
         "stop a thread from outside, so it keeps running in this process (in a notebook, "
         "until the kernel restarts)",
         "join() the threads you start before you return the response, or hand the work "
         "to a queue that something outside the request owns."),
    Rule("sandbox.left_processes", POPEN, POPEN_URL,
         "your app left {n} process{es} running after it returned ({which}); the server "
         "killed {them}, and everything {they} had started",
         "wait for the processes you start (subprocess.run() waits, so do Popen.wait() and "
         "communicate()); an os.fork() copy of the server is never an app's to make."),
    Rule("sandbox.worker_died", BAD_GATEWAY, BAD_GATEWAY_URL,
         "the process running your app ended (exit status {code}) before it answered{why}; "
         "the server answered 502 Bad Gateway, as a proxy does when its upstream dies",
         "an app returns a response; it never ends its process (sys.exit() is caught, "
         "os._exit() and os.kill() are not)."),
]
