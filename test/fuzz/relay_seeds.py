#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_relay (test/fuzz/fuzz_relay.cc): whole
calls as a caller and containerd send them, in the target's input format
(a mode byte, then [side][length, 2 bytes little endian][bytes] chunks).

Usage: test/fuzz/relay_seeds.py test/fuzz/corpus/fuzz_relay
"""
import os
import struct
import sys

def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload

def hpack(fields):
    # Literal header fields without indexing, new names, no Huffman.
    out = b""
    for name, value in fields:
        name, value = name.encode(), value.encode()
        assert len(name) < 127 and len(value) < 127
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out

def grpc(message, compressed=0):
    return bytes([compressed]) + struct.pack(">I", len(message)) + message

END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW = 0, 1, 3, 4, 6, 7, 8

def request(stream, path, message=b"", extra=()):
    head = [(":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "/run/crigate/crigate.sock"), ("content-type", "application/grpc"),
            ("te", "trailers")] + list(extra)
    return (frame(HEADERS, END_HEADERS, stream, hpack(head)) +
            frame(DATA, END_STREAM, stream, grpc(message)))

def answer(stream, message=b"\x0a\x02v1", status="0"):
    return (frame(HEADERS, END_HEADERS, stream,
                  hpack([(":status", "200"), ("content-type", "application/grpc")])) +
            frame(DATA, 0, stream, grpc(message)) +
            frame(HEADERS, END_HEADERS | END_STREAM, stream, hpack([("grpc-status", status)])))

def trailers_only(stream, status="5", message="not found"):
    return frame(HEADERS, END_HEADERS | END_STREAM, stream,
                 hpack([(":status", "200"), ("content-type", "application/grpc"),
                        ("grpc-status", status), ("grpc-message", message)]))

def chunk(side, data):
    return bytes([side]) + struct.pack("<H", len(data)) + data

SETTINGS_ACK = frame(SETTINGS, ACK, 0)
CREATE = "/runtime.v1.RuntimeService/CreateContainer"
VERSION = "/runtime.v1.RuntimeService/Version"
# CreateContainerRequest{pod_sandbox_id: "pod-1"}
CREATE_MSG = b"\x0a\x05pod-1"

seeds = {
    "version": bytes([0]) + chunk(0, SETTINGS_ACK + request(1, VERSION)) +
               chunk(1, SETTINGS_ACK + answer(1)),
    "held-allowed": bytes([0]) + chunk(0, SETTINGS_ACK + request(1, CREATE, CREATE_MSG)) +
                    chunk(1, SETTINGS_ACK + answer(1, b"\x0a\x03c-1")),
    "held-denied": bytes([1]) + chunk(0, SETTINGS_ACK + request(1, CREATE, CREATE_MSG)),
    "held-after-replaces-trailers-only": bytes([8 | 2]) +
        chunk(0, SETTINGS_ACK + request(1, CREATE, CREATE_MSG)) +
        chunk(1, SETTINGS_ACK + trailers_only(1)),
    "held-inline-then-caller-resets": bytes([4]) +
        chunk(0, SETTINGS_ACK + request(1, CREATE, CREATE_MSG)) +
        chunk(1, SETTINGS_ACK) +
        chunk(0, frame(RST, 0, 1, struct.pack(">I", 8))),
    "containerd-resets-and-goes-away": bytes([0]) +
        chunk(0, SETTINGS_ACK + request(1, CREATE, CREATE_MSG) + request(3, VERSION)) +
        chunk(1, SETTINGS_ACK + frame(RST, 0, 1, struct.pack(">I", 2)) +
              frame(GOAWAY, 0, 0, struct.pack(">II", 3, 0))),
    "not-served-and-ping": bytes([0]) +
        chunk(0, SETTINGS_ACK + request(1, "/containerd.services.tasks.v1.Tasks/Start") +
              frame(PING, 0, 0, b"12345678") + frame(WINDOW, 0, 0, struct.pack(">I", 1 << 20))),
    "two-messages-on-a-held-call": bytes([0]) +
        chunk(0, SETTINGS_ACK + frame(HEADERS, END_HEADERS, 1, hpack([
            (":method", "POST"), (":scheme", "http"), (":path", CREATE),
            ("content-type", "application/grpc"), ("grpc-timeout", "1S")])) +
              frame(DATA, 0, 1, grpc(CREATE_MSG)) + frame(DATA, END_STREAM, 1, grpc(CREATE_MSG))),
}

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
