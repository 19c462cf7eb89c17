//! The benchmark's summary and plot scripts (`bench/summarise.py`, `bench/plot.py`) on runs
//! written the way the load generator writes them: the ratios, the sweep verdicts and the plot
//! must come out of them, so a change to the report's fields cannot silently break the bench.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A run as `relais-loadgen --json` writes it (the fields the scripts read).
fn run(n: usize, cpu_us: f64, loss: f64, offered: f64, residence: Option<f64>) -> String {
    let residence = residence.map_or("null".to_owned(), |r| r.to_string());
    format!(
        r#"{{"server": "x", "calls_requested": {n}, "calls_established": {n},
        "media_seconds": 10.5, "setup_ms_p50": 40.0, "setup_ms_p99": 80.0,
        "delay_ms_p50": 0.5, "delay_ms_p99": 2.0, "delay_ms_max": 5.0,
        "jitter_ms_mean": 0.3, "jitter_ms_max": 0.9,
        "packets_sent": 1000, "packets_received": 1000, "loss_percent": {loss},
        "server_cpu_seconds": 1.0, "server_cpu_us_per_forwarded_packet": {cpu_us},
        "server_rss_bytes": 52428800, "forwarded_packets_per_second": {pps},
        "offered_percent": {offered}, "loadgen_cpu_percent": 30.0,
        "server_residence_ms_p50": {residence}, "server_residence_ms_p99": {residence},
        "server_receive_overflow": 0, "server_send_dropped": 0}}"#,
        pps = n * 320,
    )
}

#[test]
fn summary_ratios_sweep_verdicts_and_plot() {
    let dir = std::env::temp_dir().join(format!("relais-bench-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write("relais-8.json", run(8, 50.0, 0.0, 100.8, Some(0.25)));
    write("janus-8.json", run(8, 100.0, 0.0, 100.8, None));
    write("relais-16.json", run(16, 40.0, 0.0, 100.8, Some(0.3)));
    write("janus-16.json", run(16, 100.0, 0.0, 90.0, None));
    write("relais-32.json", run(32, 40.0, 2.0, 100.0, Some(9.0)));
    write("direct-8.json", run(8, 0.0, 0.0, 100.8, None));
    write("placement.txt", "placement: test".to_owned());

    let summary = Command::new("python3")
        .arg(repo().join("bench/summarise.py"))
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        summary.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&summary.stderr)
    );
    assert!(text.starts_with("placement: test"), "{text}");
    // 50 against 100 µs at 8 calls: exactly the target.
    assert!(text.contains("at 8 calls: 0.50 x (met)"), "{text}");
    // Janus at 16 offered only 90 %: it did not carry 16, so 8 is the largest N both carried,
    // and Relais's 32 lost 2 %: 16 is its largest.
    assert!(text.contains("largest N both carried (8)"), "{text}");
    // Both servers' delays against the clients alone (all three at 0.5 / 2.0 ms here).
    assert!(
        text.contains("8  baseline 0.50 / 2.00   relais +0.00 / +0.00   janus +0.00 / +0.00"),
        "{text}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["ratios"]["8"]["cpu_per_packet"], 0.5);
    assert_eq!(
        results["largest"]["relais"]["largest_n_within_loss_limit"],
        16
    );
    assert_eq!(results["largest"]["relais"]["smallest_n_over_limit"], 32);
    assert_eq!(
        results["largest"]["janus"]["largest_n_within_loss_limit"],
        8
    );

    let plot = Command::new("python3")
        .arg(repo().join("bench/plot.py"))
        .arg(&dir)
        .arg(dir.join("plot.svg"))
        .output()
        .unwrap();
    assert!(
        plot.status.success(),
        "{}",
        String::from_utf8_lossy(&plot.stderr)
    );
    let svg = std::fs::read_to_string(dir.join("plot.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    // CPU and delay lines for both servers, and Relais's residence line.
    assert!(svg.matches("<polyline").count() >= 7, "{svg}");
    assert!(svg.contains("Relais SFU residence p99"));
    assert!(svg.contains("no server (clients alone) p99"));
    let _ = std::fs::remove_dir_all(&dir);
}
