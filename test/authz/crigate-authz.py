#!/usr/bin/env python3
"""crigate-authz: a reference cloud authorizer for crigate.

DEVELOPMENT STAND-IN. This exists so that the demo and the tests have a cloud
endpoint on a fresh machine. It is not a production service: production points
crigate's [cloud] url at OPA (Open Policy Agent) or at the fleet's own service
speaking the same wire format.

Wire format (the shape of OPA's Data API):

  POST /v1/data/crigate/allow   (also /v1/data/crigate)
      {"input": {"action", "caller", "image": {"ref", "digest"}, "pod",
                 "container", "node": {"id", "mac"}, "token_claims", "nonce"}}
  ->  200 {"result": {"allow": true|false, "reason": "..."}, "decision_id": "..."}

  POST /v1/events
      {"events": [{...}, ...]}  -> 200 {"accepted": N}; each event is appended
                                   as one line to the --events file
  GET /v1/stats                 -> {"decisions": N, "events": M, "rejected": K}

With --node-key, every POST must carry
  X-Crigate-Node, X-Crigate-Timestamp (unix seconds, within --max-skew),
  X-Crigate-Signature: hmac-sha256=<hex of HMAC-SHA256(key, timestamp + "\\n" + body)>
else 401. A nonce seen before (within the skew window) is refused the same way.

Rules file (TOML or JSON, re-read when it changes); the first matching rule
decides, "default" when none matches:

  # rules.toml
  default = { allow = false, reason = "no rule matched" }

  [[rules]]
  action = ["RunPodSandbox", "CreateContainer", "StartContainer"]  # glob or list of globs
  image = "docker.io/library/busybox:*"     # glob on input.image.ref
  digest = "sha256:*"                       # glob on input.image.digest
  namespace = "default"                     # glob on input.pod.namespace
  pod = "web-*"                             # glob on input.pod.name
  node = "edge-*"                           # glob on input.node.id
  uid = [0, 1000]                           # caller uid, number or list
  privileged = false                        # input.container.privileged (or the pod's)
  labels = { app = "web*" }                 # globs on pod labels (container labels win)
  allow = true
  reason = "busybox may run in default"
  # test hooks, also available as flags for every answer:
  # delay_ms = 3000     answer this much later
  # garbage = true      answer 200 with a body that is not JSON
  # status = 500        answer this HTTP status
  # answer = {...}      answer exactly this JSON document

A key that is absent matches anything. JSON files have the same shape:
{"default": {...}, "rules": [{...}, ...]}.

Usage:
  crigate-authz.py --port 8181 --rules rules.toml [--events events.jsonl]
                   [--node-key node.key] [--tls-cert server.pem --tls-key server.key
                   [--client-ca ca.pem]] [--port-file FILE]
                   [--delay-ms N] [--garbage] [--status N]

Every decision is logged to stdout as one JSON line.
"""

import argparse
import fnmatch
import hashlib
import hmac
import http.server
import itertools
import json
import os
import socket
import ssl
import sys
import threading
import time
import tomllib

DECISION_PATHS = ("/v1/data/crigate/allow", "/v1/data/crigate")
EVENTS_PATH = "/v1/events"
STATS_PATH = "/v1/stats"
MAX_BODY = 1 << 20


def log(record):
    record = dict(record)
    record.setdefault("time", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


class Rules:
    """The rules file, re-read whenever its modification time changes."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.mtime = None
        self.default = {"allow": False, "reason": "no rule matched"}
        self.rules = []
        if path:
            self.reload(force=True)

    def reload(self, force=False):
        if not self.path:
            return
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError as e:
            log({"event": "rules", "error": str(e)})
            return
        if not force and mtime == self.mtime:
            return
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
            if self.path.endswith(".json"):
                doc = json.loads(raw)
            else:
                doc = tomllib.loads(raw.decode())
            rules = doc.get("rules", [])
            default = doc.get("default", self.default)
            if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
                raise ValueError("rules must be a list of tables")
        except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
            if force:
                raise SystemExit(f"crigate-authz: {self.path}: {e}")
            log({"event": "rules", "error": f"{self.path}: {e}; keeping the previous rules"})
            return
        with self.lock:
            self.rules, self.default, self.mtime = rules, default, mtime
        log({"event": "rules", "loaded": self.path, "rules": len(rules)})

    def decide(self, inp):
        """(rule index or None, rule dict)"""
        self.reload()
        with self.lock:
            rules, default = self.rules, self.default
        for i, rule in enumerate(rules):
            if matches(rule, inp):
                return i, rule
        return None, default


def as_list(value):
    return value if isinstance(value, list) else [value]


def glob_any(patterns, value):
    value = "" if value is None else str(value)
    return any(fnmatch.fnmatchcase(value, str(p)) for p in as_list(patterns))


def dig(doc, *keys):
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def merged_labels(inp):
    """The pod's labels, overridden by the container's."""
    labels = {}
    for part in ("pod", "container"):
        found = dig(inp, part, "labels")
        if isinstance(found, dict):
            labels.update(found)
    return labels


def matches(rule, inp):
    checks = {
        "action": lambda p: glob_any(p, inp.get("action")),
        "image": lambda p: glob_any(p, dig(inp, "image", "ref")),
        "digest": lambda p: glob_any(p, dig(inp, "image", "digest")),
        "namespace": lambda p: glob_any(p, dig(inp, "pod", "namespace")),
        "pod": lambda p: glob_any(p, dig(inp, "pod", "name")),
        "node": lambda p: glob_any(p, dig(inp, "node", "id")),
        "uid": lambda p: dig(inp, "caller", "uid") in as_list(p),
        "labels": lambda p: isinstance(p, dict) and all(
            glob_any(v, merged_labels(inp).get(k)) for k, v in p.items()),
        "privileged": lambda p: bool(
            dig(inp, "container", "privileged") or dig(inp, "pod", "privileged")) == bool(p),
    }
    for key, check in checks.items():
        if key in rule and not check(rule[key]):
            return False
    return True


class Nonces:
    """Nonces seen within the skew window: a replayed request is refused."""

    def __init__(self, window):
        self.window = window
        self.lock = threading.Lock()
        self.seen = {}

    def fresh(self, nonce):
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > 100000:
                self.seen = {n: t for n, t in self.seen.items() if now - t < self.window}
            if nonce in self.seen and now - self.seen[nonce] < self.window:
                return False
            self.seen[nonce] = now
            return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: crigate reuses its connections
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stall
    server_version = "crigate-authz"

    def log_message(self, fmt, *args):  # decisions are logged as JSON instead
        pass

    def send_json(self, status, doc):
        self.send_raw(status, json.dumps(doc).encode(), "application/json")

    def send_raw(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == STATS_PATH:
            self.send_json(200, self.server.stats_snapshot())
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.send_json(413, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        problem = self.check_signature(body)
        if problem:
            srv.count("rejected")
            log({"event": "rejected", "path": self.path, "reason": problem,
                 "node": self.headers.get("X-Crigate-Node")})
            self.send_json(401, {"error": problem})
            return
        if self.path in DECISION_PATHS:
            self.decide(body)
        elif self.path == EVENTS_PATH:
            self.events(body)
        else:
            self.send_json(404, {"error": "not found"})

    def check_signature(self, body):
        srv = self.server
        if srv.node_key is None:
            return None
        ts = self.headers.get("X-Crigate-Timestamp", "")
        sig = self.headers.get("X-Crigate-Signature", "")
        if not self.headers.get("X-Crigate-Node"):
            return "no X-Crigate-Node header"
        try:
            skew = abs(time.time() - int(ts))
        except ValueError:
            return "no valid X-Crigate-Timestamp header"
        if skew > srv.max_skew:
            return f"timestamp {ts} is {int(skew)} s away from now"
        expected = "hmac-sha256=" + hmac.new(
            srv.node_key, ts.encode() + b"\n" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            return "bad X-Crigate-Signature"
        return None

    def decide(self, body):
        srv = self.server
        decision_id = f"authz-{srv.boot}-{next(srv.ids)}"
        try:
            doc = json.loads(body)
            inp = doc["input"]
            if not isinstance(inp, dict):
                raise ValueError("input is not an object")
        except (ValueError, KeyError, TypeError) as e:
            self.send_json(400, {"error": f"bad request: {e}"})
            return
        nonce = inp.get("nonce")
        if srv.node_key is not None and (not nonce or not srv.nonces.fresh(nonce)):
            srv.count("rejected")
            log({"event": "rejected", "path": self.path, "reason": "missing or replayed nonce",
                 "node": self.headers.get("X-Crigate-Node")})
            self.send_json(401, {"error": "missing or replayed nonce"})
            return
        index, rule = srv.rules.decide(inp)
        srv.count("decisions")
        allow = rule.get("allow") is True
        reason = str(rule.get("reason", "allowed" if allow else "denied"))
        delay_ms = rule.get("delay_ms", srv.args.delay_ms)
        garbage = rule.get("garbage", srv.args.garbage)
        status = int(rule.get("status", srv.args.status))
        log({"event": "decision", "decision_id": decision_id, "action": inp.get("action"),
             "image": dig(inp, "image", "ref"), "namespace": dig(inp, "pod", "namespace"),
             "uid": dig(inp, "caller", "uid"), "node": dig(inp, "node", "id"),
             "rule": index, "allow": allow, "reason": reason, "delay_ms": delay_ms,
             "garbage": bool(garbage), "status": status})
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        try:
            if garbage:
                self.send_raw(200, b"<html>this is not json", "text/html")
            elif status != 200:
                self.send_json(status, {"error": f"test hook: status {status}"})
            elif "answer" in rule:
                self.send_json(200, rule["answer"])
            else:
                self.send_json(200, {"result": {"allow": allow, "reason": reason},
                                     "decision_id": decision_id})
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the caller gave up (timeout)

    def events(self, body):
        srv = self.server
        try:
            events = json.loads(body)["events"]
            if not isinstance(events, list):
                raise ValueError("events is not a list")
        except (ValueError, KeyError, TypeError) as e:
            self.send_json(400, {"error": f"bad request: {e}"})
            return
        srv.append_events(events)
        log({"event": "events", "count": len(events), "node": self.headers.get("X-Crigate-Node")})
        self.send_json(200, {"accepted": len(events)})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, args):
        self.args = args
        self.rules = Rules(args.rules)
        self.node_key = None
        if args.node_key:
            with open(args.node_key, "rb") as f:
                self.node_key = f.read().rstrip(b" \t\r\n")
        self.max_skew = args.max_skew
        self.nonces = Nonces(args.max_skew * 2)
        self.ids = itertools.count(1)
        self.boot = "%x" % int(time.time())
        self.counts = {"decisions": 0, "events": 0, "rejected": 0}
        self.counts_lock = threading.Lock()
        self.events_lock = threading.Lock()
        self.tls = None
        if args.tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
            self.tls.load_cert_chain(args.tls_cert, args.tls_key)
            if args.client_ca:
                self.tls.verify_mode = ssl.CERT_REQUIRED
                self.tls.load_verify_locations(args.client_ca)
        super().__init__((args.listen, args.port), Handler)

    def finish_request(self, request, client_address):
        # Runs on the connection's own thread: a slow TLS handshake holds up
        # only its own connection.
        if self.tls:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                log({"event": "tls", "peer": client_address[0], "error": str(e)})
                try:
                    request.close()
                except OSError:
                    pass
                return
            try:
                super().finish_request(request, client_address)
            finally:
                self.shutdown_request(request)  # the TLS socket; the caller closes the raw one
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        log({"event": "error", "peer": client_address[0], "error": str(sys.exc_info()[1])})

    def count(self, key, n=1):
        with self.counts_lock:
            self.counts[key] += n

    def stats_snapshot(self):
        with self.counts_lock:
            return dict(self.counts)

    def append_events(self, events):
        self.count("events", len(events))
        if not self.args.events:
            return
        with self.events_lock, open(self.args.events, "a") as f:
            for e in events:
                f.write(json.dumps(e, sort_keys=True) + "\n")


def main():
    p = argparse.ArgumentParser(
        description="Reference cloud authorizer for crigate (development stand-in; "
                    "production uses OPA or the fleet's own service).")
    p.add_argument("--listen", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8181, help="port; 0 picks a free one")
    p.add_argument("--port-file", help="write the port here once listening")
    p.add_argument("--rules", help="rules file (.toml or .json); none: deny everything")
    p.add_argument("--events", help="append received events here, one JSON line each")
    p.add_argument("--node-key", help="verify X-Crigate-Signature with this key file")
    p.add_argument("--max-skew", type=int, default=300, help="timestamp tolerance, seconds")
    p.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    p.add_argument("--tls-key", help="... and this private key")
    p.add_argument("--client-ca", help="require client certificates signed by this CA (mTLS)")
    p.add_argument("--delay-ms", type=int, default=0, help="test hook: answer this much later")
    p.add_argument("--garbage", action="store_true", help="test hook: answer with non-JSON")
    p.add_argument("--status", type=int, default=200, help="test hook: answer this HTTP status")
    args = p.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert")

    server = Server(args)
    port = server.server_address[1]
    log({"event": "listening", "address": args.listen, "port": port,
         "scheme": "https" if server.tls else "http", "mtls": bool(args.client_ca),
         "signed": server.node_key is not None})
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
