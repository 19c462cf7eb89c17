#!/usr/bin/env python3
"""Memory of idle websockets: starts `relais serve`, opens N websocket upgrades that never say
`hello`, and prints the server's resident memory per connection, then what stays resident after
they all close.

    bench/idle-websockets.py [--bin target/release/relais] [--connections 3000]
"""

import argparse
import base64
import os
import re
import resource
import socket
import subprocess
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def upgrade(port):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    reply = sock.recv(4096)
    if b" 101 " not in reply:
        raise SystemExit(f"upgrade refused: {reply[:80]!r}")
    return sock


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="target/release/relais")
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--port", type=int, default=18098)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    workdir = tempfile.mkdtemp(prefix="relais-idle-ws-")
    config = os.path.join(workdir, "relais.toml")
    with open(config, "w") as out:
        out.write(
            f'data_dir = "{workdir}/data"\n[http]\nlisten = "127.0.0.1:{args.port}"\n'
            f"max_connections_per_address = {args.connections + 100}\n"
            '[auth]\nsecret = "idle-websockets-bench-secret"\n[media]\nport = 0\nshards = 1\n'
        )
    server = subprocess.Popen(
        [args.bin, "serve", "--config", config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        warm = [upgrade(args.port) for _ in range(20)]
        time.sleep(1)
        before = rss_kib(server.pid)
        started = time.time()
        held = [upgrade(args.port) for _ in range(args.connections)]
        time.sleep(1)
        during = rss_kib(server.pid)
        for sock in held + warm:
            sock.close()
        time.sleep(5)
        after = rss_kib(server.pid)
        print(f"connections            {args.connections} (opened in {time.time() - started:.1f} s)")
        print(f"resident per idle ws   {(during - before) / args.connections:.1f} KiB")
        print(f"resident while open    +{(during - before) / 1024:.1f} MiB")
        print(f"left 5 s after closing +{(after - before) / 1024:.1f} MiB")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
