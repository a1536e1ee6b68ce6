"""A real webhook receiver for the end-to-end tests.

An HTTP/1.1 server on 127.0.0.1 (ephemeral port) in a thread, standard
library only. It records every request (time, path, headers, body), verifies
Standard Webhooks signatures when given the secret, and answers from a
per-path script: a list of actions used one per request, then a default.
client_problems() checks what it got with the real client libraries
(clients.py: Webhook.verify of standardwebhooks, Microsoft's adaptivecards).

Actions:
    204                       a status code, empty body
    (429, {"Retry-After": "2"})   a status with extra headers
    ("redirect", 302, "/elsewhere")
    ("hang", 5.0)             read the request, answer nothing for 5 s
                              (or until stop()), then 204
"""

import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time


def sign(secret, msg_id, timestamp, body):
    """The Standard Webhooks signature "v1,<base64>" of body."""
    key = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    mac = hmac.new(base64.b64decode(key),
                   b"%s.%s.%s" % (msg_id.encode(), timestamp.encode(), body),
                   hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret, headers, body, tolerance=300):
    """True if headers carry a valid, fresh signature of body."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not (msg_id and stamp and sigs):
        return False
    try:
        if abs(time.time() - int(stamp)) > tolerance:
            return False
    except ValueError:
        return False
    want = sign(secret, msg_id, stamp, body)
    return any(hmac.compare_digest(want, s) for s in sigs.split(" "))


class Request:
    def __init__(self, when, path, headers, body, answer, sig_ok):
        self.time = when            # time.monotonic() at arrival
        self.path = path
        self.headers = headers      # dict, lower-case names
        self.body = body            # bytes
        self.answer = answer        # status sent (None while hanging)
        self.sig_ok = sig_ok        # None when no secret is known

    @property
    def id(self):
        return self.headers.get("webhook-id")

    def json(self):
        return json.loads(self.body)


class Receiver:
    def __init__(self, secret=None):
        self.secret = secret
        self.lock = threading.Condition()
        self.requests = []
        self.scripts = {}
        self.defaults = {}
        self.stopping = threading.Event()
        self.port = 0
        self.conns = set()
        self.server = None
        self.thread = None
        self.start()

    # -- control --------------------------------------------------------
    def start(self):
        """Listen (again, on the same port once one was chosen)."""
        handler = self._handler()
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def down(self):
        """Stop listening and drop the open (keep-alive) connections:
        connections are refused until start()."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.down()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def script(self, path, actions, default=204):
        with self.lock:
            self.scripts[path] = list(actions)
            self.defaults[path] = default

    # -- inspection -----------------------------------------------------
    def wait(self, pred, timeout=10.0, what="condition"):
        """Wait until pred(requests) is true; return its value."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                val = pred(list(self.requests))
                if val:
                    return val
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "receiver: timed out waiting for %s; got %r" %
                        (what, [(r.path, r.answer, r.id)
                                for r in self.requests]))
                self.lock.wait(min(left, 0.05))

    def got(self, path=None):
        with self.lock:
            return [r for r in self.requests
                    if path is None or r.path == path]

    def client_problems(self, clients):
        """What the real client libraries find wrong with every request
        received so far (clients.problems): [] when all is well."""
        from clients import problems
        return problems(clients, self.got(), self.secret)

    def delivered(self, path=None):
        """Requests answered 2xx."""
        return [r for r in self.got(path)
                if r.answer is not None and 200 <= r.answer < 300]

    # -- serving --------------------------------------------------------
    def _next_action(self, path):
        with self.lock:
            script = self.scripts.get(path)
            if script:
                return script.pop(0)
            return self.defaults.get(path, 204)

    def _handler(self):
        rcv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with rcv.lock:
                    rcv.conns.add(self.connection)

            def finish(self):
                with rcv.lock:
                    rcv.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                sig_ok = None
                if rcv.secret is not None:
                    sig_ok = verify(rcv.secret, headers, body)
                req = Request(time.monotonic(), self.path, headers, body,
                              None, sig_ok)
                action = rcv._next_action(self.path)
                with rcv.lock:
                    rcv.requests.append(req)
                    rcv.lock.notify_all()
                extra = {}
                if isinstance(action, tuple) and action[0] == "hang":
                    rcv.stopping.wait(action[1])
                    status = 204
                    # The client has long given up: just close.
                    self.close_connection = True
                    with rcv.lock:
                        req.answer = -1
                        rcv.lock.notify_all()
                    return
                if isinstance(action, tuple) and action[0] == "redirect":
                    status = action[1]
                    extra = {"Location": action[2]}
                elif isinstance(action, tuple):
                    status, extra = action
                else:
                    status = action
                # Recorded before it is sent: once the daemon has seen the
                # answer, a test must see it too.
                with rcv.lock:
                    req.answer = status
                    rcv.lock.notify_all()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

        return Handler
