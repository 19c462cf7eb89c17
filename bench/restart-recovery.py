#!/usr/bin/env python3
"""Restart to ready with calls waiting: starts `relais serve` once to create its store, stops
it, leaves N waiting calls in its journal (as a crash would), then times the next start until
`/readyz` answers 200, and checks that every call is kept for its kiosk (none recorded yet).

    bench/restart-recovery.py [--bin target/release/relais] [--calls 10000] [--runs 3]
"""

import argparse
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
            return reply.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def start(binary, config):
    return subprocess.Popen(
        [binary, "serve", "--config", config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(port, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        if ready(port):
            return True
        time.sleep(0.005)
    return False


def leave_waiting_calls(db, calls):
    now_ms = int(time.time() * 1000)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM live_calls")
        rows = []
        for n in range(1, calls + 1):
            kiosk = f"borne-{n}"
            legs = [{"seq": 0, "role": "kiosk", "subject": kiosk, "queue": None,
                     "joined_at_ms": now_ms - n, "left_at_ms": 0, "left_because": "",
                     "wrap_up_ms": None, "disposition": None}]
            rows.append((1_000_000 + n, "caf", "caf", kiosk, "mairie", 0, now_ms - n, "waiting",
                         None, None, None, 0, json.dumps(legs), now_ms))
        conn.executemany(
            "INSERT INTO live_calls (call_id, queue, origin_queue, kiosk, site, priority, "
            "enqueued_at_ms, state, agent, answered_at_ms, ended_at_ms, attempts, legs, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default="target/release/relais")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=18099)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="relais-restart-")
    config = os.path.join(workdir, "relais.toml")
    with open(config, "w") as out:
        out.write(
            f'data_dir = "{workdir}/data"\n[http]\nlisten = "127.0.0.1:{args.port}"\n'
            '[auth]\nsecret = "restart-recovery-bench-secret"\n[media]\nport = 0\nshards = 1\n'
            "[recovery]\ngrace_secs = 600\n"
        )
    db = os.path.join(workdir, "data", "relais.sqlite3")
    server = start(args.bin, config)
    if not wait_ready(args.port):
        raise SystemExit("relais did not start")
    server.kill()
    server.wait()
    for run in range(1, args.runs + 1):
        leave_waiting_calls(db, args.calls)
        started = time.time()
        server = start(args.bin, config)
        try:
            if not wait_ready(args.port):
                raise SystemExit("relais did not become ready")
            took = time.time() - started
        finally:
            server.kill()
            server.wait()
        with sqlite3.connect(db) as conn:
            kept = conn.execute("SELECT count(*) FROM live_calls WHERE state = 'waiting'").fetchone()[0]
            recorded = conn.execute(
                "SELECT count(*) FROM calls WHERE call_id > 1000000").fetchone()[0]
        print(f"run {run}: {args.calls} waiting calls, restart to ready {took * 1000:.0f} ms, "
              f"kept {kept}, recorded {recorded}")


if __name__ == "__main__":
    main()
