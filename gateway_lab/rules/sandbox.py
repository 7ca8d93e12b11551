"""Rules about running learner code at all, whatever the interface: code that would
swallow the server's stop, threads and processes an app leaves running, and what
of the process it changes and leaves changed (process_state.py).

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
# A server's process runs the app for one request after another (wsgi.run_once is
# true only for CGI-like gateways), and with threads for several at once.
SHARED = "PEP 3333 §environ Variables (wsgi.multithread, wsgi.run_once)"
SHARED_URL = "https://peps.python.org/pep-3333/#environ-variables"
# "The environ parameter is a dictionary object, containing CGI-style environment
# variables ... the application is allowed to modify the dictionary in any way it desires."
ENVIRON = "PEP 3333 §Specification Details"
ENVIRON_URL = "https://peps.python.org/pep-3333/#specification-details"
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
    Rule("sandbox.changed_process_state", SHARED, SHARED_URL,
         "your app changed what the whole process shares and left it changed when it "
         "returned: {what}. A server's process goes on to serve every later request, and "
         "other requests on other threads at the same time, so a change one request makes "
         "leaks into all of them; the lab put {it} back, so this notebook and the next run "
         "work as before",
         "{hint}."),
    Rule("sandbox.changed_os_environ", ENVIRON, ENVIRON_URL,
         "your app changed os.environ during the request and left it changed ({how}); "
         "os.environ is the environment of the whole process, which a server keeps for "
         "every later request and shares with requests running at the same time on other "
         "threads, so a value one request sets is seen by the next ones. The request's own "
         "variables come in {request}, which is the app's to change; the lab put os.environ "
         "back, so this notebook and the next run see it as before",
         "read the request from {request} you are given and keep per-request values in "
         "local variables (a CGI script's os.environ is the request's because its process "
         "serves one request; a WSGI or ASGI app's process serves them all)."),
    Rule("sandbox.worker_died", BAD_GATEWAY, BAD_GATEWAY_URL,
         "the process running your app ended (exit status {code}) before it answered{why}; "
         "the server answered 502 Bad Gateway, as a proxy does when its upstream dies",
         "an app returns a response; it never ends its process (sys.exit() is caught, "
         "os._exit() and os.kill() are not)."),
]
