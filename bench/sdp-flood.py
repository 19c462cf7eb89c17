#!/usr/bin/env python3
"""Other calls' delay while one kiosk in a call floods the server with large SDP offers.

Starts `relais serve`, sets up one call of its own (an agent and a kiosk over raw websockets),
then runs the load generator twice for the same calls: once quiet, once while that kiosk sends
`sdp_offer`s of S media sections (132 by default, about 44 KB) N times a second. Prints the load generator's
one-way delay figures of both runs and what the flooding kiosk was answered.

    bench/sdp-flood.py [--bin target/debug/relais] [--loadgen target/debug/relais-loadgen]
                       [--calls 8] [--seconds 15] [--rate 40] [--sections 132]
"""

import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

SECRET = "sdp-flood-secret-0123456789"


def token(role, sub, skills=None):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {"role": role, "sub": sub, "exp": int(time.time()) + 3600}
    if skills:
        claims["skills"] = skills
    if role == "kiosk":
        claims["site"] = "bench"
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    tag = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(tag)}"


class Socket:
    """A minimal websocket client: masked text frames out, frames in on a reader thread."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += self.sock.recv(4096)
        if b" 101 " not in reply:
            raise SystemExit(f"upgrade refused: {reply[:80]!r}")
        self.buffer = reply.split(b"\r\n\r\n", 1)[1]
        self.messages = collections.deque()
        self.codes = collections.Counter()
        self.lock = threading.Lock()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, message):
        self.next_id += 1
        message["id"] = self.next_id
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        head = bytes([0x81])
        if len(payload) < 126:
            head += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        # Big-integer XOR: masking byte by byte in Python would cost the flooder more CPU than
        # the server spends refusing the offers, on the same two cores.
        repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
            len(payload), "big"
        )
        self.sock.sendall(head + mask + masked)

    def _recv(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _read(self):
        try:
            while True:
                b0, b1 = self._recv(2)
                length = b1 & 0x7F
                if length == 126:
                    (length,) = struct.unpack(">H", self._recv(2))
                elif length == 127:
                    (length,) = struct.unpack(">Q", self._recv(8))
                payload = self._recv(length)
                if b0 & 0x0F == 1:
                    message = json.loads(payload)
                    with self.lock:
                        self.messages.append(message)
                        if message.get("type") == "error":
                            self.codes[message.get("code")] += 1
                        elif message.get("type") == "ok":
                            self.codes["ok"] += 1
        except (EOFError, OSError):
            pass

    def wait(self, kind, limit=10):
        deadline = time.time() + limit
        while time.time() < deadline:
            with self.lock:
                for message in list(self.messages):
                    if message.get("type") == kind or message.get("result", {}).get("kind") == kind:
                        self.messages.remove(message)
                        return message
            time.sleep(0.02)
        raise SystemExit(f"no {kind} within {limit} s")


def big_offer(sections):
    lines = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE " + " ".join(map(str, range(sections)))]
    for mid in range(sections):
        lines += [
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "c=IN IP4 0.0.0.0",
            f"a=mid:{mid}",
            "a=ice-ufrag:flood",
            "a=ice-pwd:floodfloodfloodfloodflood",
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
            "a=setup:actpass",
            "a=sendrecv",
            "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2",
            f"a=ssrc:{1000 + mid} cname:flood",
        ]
    return "\r\n".join(lines) + "\r\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadgen(args, port, pid):
    out = subprocess.run(
        [args.loadgen, "--server", f"http://127.0.0.1:{port}", "--secret", SECRET,
         "--service", "caf", "--calls", str(args.calls), "--seconds", str(args.seconds),
         "--server-pid", str(pid)],
        capture_output=True, text=True, check=True,
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/debug/relais")
    parser.add_argument("--loadgen", default="target/debug/relais-loadgen")
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=float, default=40)
    parser.add_argument("--sections", type=int, default=132,
                        help="media sections per offer (the protocol takes at most 8)")
    args = parser.parse_args()
    port = free_port()
    data = tempfile.mkdtemp(prefix="relais-sdp-flood-")
    config = os.path.join(data, "relais.toml")
    with open(config, "w") as f:
        f.write(
            f'data_dir = "{data}"\n[http]\nlisten = "127.0.0.1:{port}"\n[auth]\nsecret = "{SECRET}"\n'
            'development = false\n[media]\nshards = 1\nport = 0\n[[services]]\nid = "caf"\nname = "CAF"\n'
            'wrap_up_secs = 1\n[[services.skills]]\nskill = "caf"\n'
        )
    server = subprocess.Popen([args.bin, "serve", "--config", config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        agent, kiosk = Socket(port), Socket(port)
        agent.send({"type": "hello", "protocol": 1, "token": token("agent", "flood-agent", [["caf", 3]])})
        agent.wait("welcome")
        agent.send({"type": "set_state", "state": "ready"})
        kiosk.send({"type": "hello", "protocol": 1, "token": token("kiosk", "flood-kiosk")})
        kiosk.wait("welcome")
        kiosk.send({"type": "call", "service": "caf"})
        call = kiosk.wait("queued")["result"]["call"]
        agent.wait("offered")
        agent.send({"type": "accept", "call": call})
        kiosk.wait("media_ready")
        quiet = loadgen(args, port, server.pid)
        offer = big_offer(args.sections)
        stop = threading.Event()

        def flood():
            while not stop.is_set():
                kiosk.send({"type": "sdp_offer", "sdp": offer})
                time.sleep(1 / args.rate)

        flooder = threading.Thread(target=flood, daemon=True)
        kiosk.codes.clear()
        flooder.start()
        flooded = loadgen(args, port, server.pid)
        stop.set()
        flooder.join()
        time.sleep(0.5)
        print(f"SDP offer: {len(offer)} bytes, {args.sections} media sections, {args.rate:.0f}/s")
        print("quiet:  ", *quiet, sep="\n  ")
        print("flooded:", *flooded, sep="\n  ")
        print("answers to the flooding kiosk:", dict(kiosk.codes))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
