#!/usr/bin/env python3
"""Summarises a janus-vs-relais.sh output directory: one row per server and N, the
Relais/Janus ratios at each N both served, and the largest N each server carried with loss
under the limit. Writes results.json next to the runs. Standard library only."""

import argparse
import json
import pathlib
import re


def load(out):
    runs = {}
    for path in sorted(out.glob("*.json")):
        m = re.fullmatch(r"(relais|janus|direct)-(\d+)\.json", path.name)
        if not m:
            continue
        runs[(m.group(1), int(m.group(2)))] = json.loads(path.read_text())
    return runs


# Below this share of the asked-for packets, the load generator (not the server) was the
# bottleneck: the run cannot say the server carried N calls.
MIN_OFFERED = 95.0


def ok(run, loss_limit):
    return (
        not run.get("failed")
        and run.get("calls_established", 0) >= run["calls_requested"]
        and run.get("loss_percent", 100.0) <= loss_limit
        and run.get("offered_percent", 0.0) >= MIN_OFFERED
    )


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--loss-limit", type=float, default=0.5)
    args = ap.parse_args()
    runs = load(args.out)
    ns = sorted({n for (_, n) in runs})
    placement = args.out / "placement.txt"
    if placement.exists():
        print(placement.read_text().strip())
    print()
    head = (
        f"{'server':<7} {'N':>4} {'up':>7} {'fwd pkt/s':>9} {'loss %':>7} "
        f"{'delay p50/p99/max ms':>22} {'CPU µs/pkt':>10} {'CPU s':>6} {'RSS MiB':>7} "
        f"{'offered %':>9} {'jitter ms':>9} {'SFU p50/p99 ms':>14}"
    )
    print(head)
    print("-" * len(head))
    for n in ns:
        for server in ("relais", "janus", "direct"):
            r = runs.get((server, n))
            if r is None:
                continue
            if r.get("failed"):
                print(f"{server:<7} {n:>4} {'failed':>7}")
                continue
            delay = "/".join(fmt(r.get(k)) for k in ("delay_ms_p50", "delay_ms_p99", "delay_ms_max"))
            rss = r.get("server_rss_bytes")
            residence = "/".join(
                fmt(r.get(k), 3) for k in ("server_residence_ms_p50", "server_residence_ms_p99")
            )
            if r.get("server_residence_ms_p99") is None:
                residence = "-"
            print(
                f"{server:<7} {n:>4} {r['calls_established']:>3}/{r['calls_requested']:<3} "
                f"{r['forwarded_packets_per_second']:>9.0f} {r['loss_percent']:>7.3f} {delay:>22} "
                f"{fmt(r.get('server_cpu_us_per_forwarded_packet'), 1):>10} "
                f"{fmt(r.get('server_cpu_seconds')):>6} "
                f"{fmt(rss / 1048576 if rss else None, 1):>7} "
                f"{fmt(r.get('offered_percent'), 1):>9} {fmt(r.get('jitter_ms_mean'), 3):>9} "
                f"{residence:>14}"
            )
    print()
    print("Relais / Janus ratios (below 1: Relais better)")
    print(f"{'N':>4} {'CPU per fwd packet':>18} {'delay p50':>10} {'delay p99':>10} {'loss (R vs J, %)':>18}")
    ratios = {}
    for n in ns:
        rl, jn = runs.get(("relais", n)), runs.get(("janus", n))
        if not rl or not jn or rl.get("failed") or jn.get("failed"):
            continue
        cpu = ratio(rl.get("server_cpu_us_per_forwarded_packet"), jn.get("server_cpu_us_per_forwarded_packet"))
        p50 = ratio(rl.get("delay_ms_p50"), jn.get("delay_ms_p50"))
        p99 = ratio(rl.get("delay_ms_p99"), jn.get("delay_ms_p99"))
        loss = ratio(rl["loss_percent"], jn["loss_percent"])
        ratios[n] = {"cpu_per_packet": cpu, "delay_p50": p50, "delay_p99": p99, "loss": loss}
        print(
            f"{n:>4} {fmt(cpu):>18} {fmt(p50):>10} {fmt(p99):>10} "
            f"{rl['loss_percent']:>8.3f} vs {jn['loss_percent']:<7.3f}"
        )
    if 8 in ratios and ratios[8]["cpu_per_packet"] is not None:
        met = "met" if ratios[8]["cpu_per_packet"] <= 0.5 else "missed"
        print(f"\ntarget: Relais CPU per forwarded packet <= 0.5 x Janus at 8 calls: "
              f"{ratios[8]['cpu_per_packet']:.2f} x ({met})")
    both_ok = [n for n in ratios
               if ok(runs[("relais", n)], args.loss_limit) and ok(runs[("janus", n)], args.loss_limit)]
    if both_ok and ratios[max(both_ok)]["cpu_per_packet"] is not None:
        top = max(both_ok)
        met = "met" if ratios[top]["cpu_per_packet"] <= 0.5 else "missed"
        print(f"target: the same at the largest N both carried ({top}): "
              f"{ratios[top]['cpu_per_packet']:.2f} x ({met})")
    baseline = [n for n in ns if ("direct", n) in runs and not runs[("direct", n)].get("failed")]
    if baseline:
        print("\nDelay over the direct baseline (the clients alone, no server), p50 / p99 ms")
        for n in baseline:
            d = runs[("direct", n)]
            cells = []
            for server in ("relais", "janus"):
                r = runs.get((server, n))
                if not r or r.get("failed"):
                    cells.append(f"{server} -")
                    continue
                added = [
                    None if r.get(k) is None or d.get(k) is None else r[k] - d[k]
                    for k in ("delay_ms_p50", "delay_ms_p99")
                ]
                cells.append(f"{server} +{fmt(added[0])} / +{fmt(added[1])}")
            print(f"{n:>4}  baseline {fmt(d.get('delay_ms_p50'))} / {fmt(d.get('delay_ms_p99'))}   "
                  + "   ".join(cells))
    largest = {}
    for server in ("relais", "janus"):
        good = [n for (s, n), r in runs.items() if s == server and ok(r, args.loss_limit)]
        bad = [n for (s, n), r in runs.items() if s == server and not ok(r, args.loss_limit)]
        largest[server] = {
            "largest_n_within_loss_limit": max(good) if good else None,
            "smallest_n_over_limit": min(bad) if bad else None,
        }
    print(f"\nlargest N with every call up, loss <= {args.loss_limit} % and >= {MIN_OFFERED:.0f} % "
          f"of the load offered (runs made):")
    for server, v in largest.items():
        over = v["smallest_n_over_limit"]
        print(f"  {server:<7} {v['largest_n_within_loss_limit']}"
              + (f" (first over the limit: {over})" if over else " (no run over the limit)"))
    (args.out / "results.json").write_text(json.dumps({
        "runs": [dict(r, server_kind=s, n=n) for (s, n), r in sorted(runs.items())],
        "ratios": {str(n): v for n, v in ratios.items()},
        "largest": largest,
        "loss_limit_percent": args.loss_limit,
    }, indent=2))


if __name__ == "__main__":
    main()
