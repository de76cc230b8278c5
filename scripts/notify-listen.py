#!/usr/bin/python3
"""Plays systemd's side of sd_notify for scripts/package-test.sh.

Binds a datagram socket (give its path to the daemon as NOTIFY_SOCKET) and
writes one JSON line per notification to OUT: the message, and what was true
when it arrived (the CRI socket exists; containerd's socket accepts a
connection), so the test can say READY=1 came only once both held.

Usage: notify-listen.py NOTIFY_SOCKET OUT CRI_SOCKET CONTAINERD_SOCKET
Runs until killed.
"""
import json
import os
import socket
import stat
import sys
import time


def is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def main():
    notify_path, out_path, cri_socket, containerd_socket = sys.argv[1:5]
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    with open(out_path, "a", encoding="utf-8") as out:
        while True:
            data = sock.recv(65536)
            record = {
                "time": time.monotonic(),
                "message": data.decode("utf-8", "replace"),
                "cri_socket": is_socket(cri_socket),
                "containerd_accepts": accepts(containerd_socket),
            }
            out.write(json.dumps(record) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
