//! What every target shares once calls are up: waiting for the set-up tasks, the media window
//! with the server's CPU read around it, and the report built from what the peers received.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::peer::{MediaProfile, Peer, Received};
use crate::proc_stats;
use crate::report::{Report, quantile};
use crate::server_metrics;

/// Waits for the call set-up tasks (at most 120 s each), prints the first failures and, with
/// `progress`, how many of the `requested` calls came up `via` the server.
pub async fn join_set_up(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    established: &AtomicUsize,
    requested: usize,
    via: &str,
    progress: bool,
) -> usize {
    let mut failures = Vec::new();
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(120), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => failures.push(format!("{err:#}")),
            Ok(Err(err)) => failures.push(err.to_string()),
            Err(_) => failures.push("a call did not set up within 120 s".to_owned()),
        }
    }
    for failure in failures.iter().take(5) {
        eprintln!("call failed: {failure}");
    }
    if progress {
        eprintln!(
            "\restablished {} of {requested} calls {via}",
            established.load(Ordering::Relaxed)
        );
    }
    failures.len()
}

/// Waits until every one of `peers` is connected, at most `within`; whether they all are.
pub async fn wait_connected(peers: &[&Peer], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if peers.iter().all(|peer| peer.connected()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the media window measured.
#[derive(Debug, Clone)]
pub struct Window {
    /// Packets sent per peer: (audio, video).
    pub sent: Vec<(u64, u64)>,
    pub seconds: f64,
    /// Server CPU seconds used during the window.
    pub cpu: Option<f64>,
    pub rss: Option<u64>,
    /// The load generator's own CPU seconds during the window.
    pub own_cpu: Option<f64>,
    /// Packets the profile asked for in the window (every peer, both streams).
    pub nominal: f64,
    /// What the server measured itself (Relais only).
    pub server: Option<server_metrics::Delta>,
}

/// Every peer sends media for `media`, then the window waits 0.5 s for the last packets; the
/// server's CPU time (and, given `metrics_of`, the server's own metrics at that base URL) is
/// read before and after.
pub async fn media_window(
    peers: &[&Peer],
    profile: MediaProfile,
    media: Duration,
    server_pid: Option<u32>,
    metrics_of: Option<&str>,
    progress: bool,
) -> Window {
    let own_pid = std::process::id();
    let scrape_before = match metrics_of {
        Some(server) => server_metrics::scrape(server).await.ok(),
        None => None,
    };
    let own_before = proc_stats::cpu_seconds(own_pid).ok();
    let cpu_before = server_pid.and_then(|pid| proc_stats::cpu_seconds(pid).ok());
    let started = Instant::now();
    let until = started + media;
    if progress {
        eprintln!("sending media from {} peers…", peers.len());
    }
    let sending =
        futures_util::future::join_all(peers.iter().map(|peer| peer.send_until(profile, until)));
    let sent = if progress {
        let bar = async {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let received: u64 = peers.iter().map(|peer| peer.packets_received()).sum();
                eprint!("\r{}", bar(started.elapsed(), media, received));
            }
        };
        tokio::select! {
            sent = sending => sent,
            () = bar => unreachable!("the progress bar never ends"),
        }
    } else {
        sending.await
    };
    if progress {
        eprintln!();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = server_pid.and_then(|pid| proc_stats::cpu_seconds(pid).ok());
    let own_after = proc_stats::cpu_seconds(own_pid).ok();
    let difference = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    let server = match (scrape_before, metrics_of) {
        (Some(before), Some(server)) => server_metrics::scrape(server)
            .await
            .ok()
            .map(|after| before.delta(&after)),
        _ => None,
    };
    let per_peer = f64::from(profile.video_pps + profile.audio_pps) * media.as_secs_f64();
    Window {
        sent,
        seconds,
        cpu: difference(cpu_before, cpu_after),
        rss: server_pid.and_then(|pid| proc_stats::rss_bytes(pid).ok()),
        own_cpu: difference(own_before, own_after),
        nominal: per_peer * peers.len() as f64,
        server,
    }
}

/// One line of progress: a 30-column bar of the media window and the packets received.
fn bar(elapsed: Duration, total: Duration, received: u64) -> String {
    let fraction = (elapsed.as_secs_f64() / total.as_secs_f64().max(0.001)).clamp(0.0, 1.0);
    let filled = (fraction * 30.0).round() as usize;
    format!(
        "media [{}{}] {:>4.0} / {:.0} s, {received} packets received",
        "#".repeat(filled),
        ".".repeat(30 - filled),
        elapsed.as_secs_f64().min(total.as_secs_f64()),
        total.as_secs_f64()
    )
}

/// What a target hands over once its calls are up, to run the media window and build the report.
pub struct Calls<'a> {
    /// What the report names as the server.
    pub server: String,
    pub requested: usize,
    pub established: usize,
    /// Every peer of every established call.
    pub peers: Vec<&'a Peer>,
    /// Per answered call: when it was answered, and the peer whose first packet ends its set-up.
    pub answered: Vec<(Instant, &'a Peer)>,
}

/// Runs the media window over `calls` (reading the server's CPU and, given `metrics_of`, its
/// metrics) and returns the report.
pub async fn measure_calls(
    calls: Calls<'_>,
    profile: MediaProfile,
    media: Duration,
    server_pid: Option<u32>,
    metrics_of: Option<&str>,
    progress: bool,
) -> Report {
    let window = media_window(
        &calls.peers,
        profile,
        media,
        server_pid,
        metrics_of,
        progress,
    )
    .await;
    let received: Vec<Received> = calls.peers.iter().map(|peer| peer.received()).collect();
    let setups: Vec<f64> = calls
        .answered
        .iter()
        .filter_map(|(at, peer)| setup_ms(*at, peer.received().first_at))
        .collect();
    report(
        calls.server,
        calls.requested,
        calls.established,
        &window,
        &received,
        setups,
    )
}

/// The report of a run: `received` by every peer, `setups_ms` of every answered call.
pub fn report(
    server: String,
    calls_requested: usize,
    calls_established: usize,
    window: &Window,
    received: &[Received],
    mut setups_ms: Vec<f64>,
) -> Report {
    let packets_sent: u64 = window.sent.iter().map(|(a, v)| a + v).sum();
    let packets_received: u64 = received
        .iter()
        .flat_map(|r| r.streams.values())
        .map(|(count, _, _)| count)
        .sum();
    // Loss inside each received stream: gaps between its first and last packet. (Packets sent
    // before the receiving side's track opened are set-up, not loss.)
    let expected: u64 = received
        .iter()
        .flat_map(|r| r.streams.values())
        .map(|(_, low, high)| u64::from(high - low) + 1)
        .sum();
    let jitters: Vec<f64> = received
        .iter()
        .flat_map(|r| r.jitter.values().map(|j| j.ms()))
        .collect();
    let mut delays: Vec<f64> = received
        .iter()
        .flat_map(|r| r.delays_us.iter().map(|us| f64::from(*us) / 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);
    setups_ms.sort_by(f64::total_cmp);
    let loss = if expected == 0 {
        0.0
    } else {
        100.0 * expected.saturating_sub(packets_received) as f64 / expected as f64
    };
    Report {
        server,
        calls_requested,
        calls_established,
        media_seconds: window.seconds,
        setup_ms_p50: quantile(&setups_ms, 0.5),
        setup_ms_p99: quantile(&setups_ms, 0.99),
        delay_ms_p50: quantile(&delays, 0.5),
        delay_ms_p99: quantile(&delays, 0.99),
        delay_ms_max: delays.last().copied(),
        jitter_ms_mean: (!jitters.is_empty())
            .then(|| jitters.iter().sum::<f64>() / jitters.len() as f64),
        jitter_ms_max: jitters.iter().copied().reduce(f64::max),
        packets_sent,
        packets_received,
        loss_percent: loss,
        server_cpu_seconds: window.cpu,
        server_cpu_us_per_forwarded_packet: window
            .cpu
            .filter(|_| packets_received > 0)
            .map(|seconds| seconds * 1e6 / packets_received as f64),
        server_rss_bytes: window.rss,
        forwarded_packets_per_second: packets_received as f64 / window.seconds.max(0.001),
        offered_percent: if window.nominal > 0.0 {
            100.0 * packets_sent as f64 / window.nominal
        } else {
            0.0
        },
        loadgen_cpu_percent: window
            .own_cpu
            .map(|cpu| 100.0 * cpu / window.seconds.max(0.001)),
        server_residence_ms_p50: window.server.as_ref().and_then(|s| s.residence_ms_p50),
        server_residence_ms_p99: window.server.as_ref().and_then(|s| s.residence_ms_p99),
        server_receive_overflow: window.server.as_ref().map(|s| s.receive_overflow),
        server_send_dropped: window.server.as_ref().map(|s| s.send_dropped),
    }
}

/// Milliseconds from an accept to the first packet received.
pub fn setup_ms(accepted_at: Instant, first_packet: Option<Instant>) -> Option<f64> {
    Some(
        first_packet?
            .saturating_duration_since(accepted_at)
            .as_secs_f64()
            * 1000.0,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_bar_fills_with_the_window() {
        let half = super::bar(Duration::from_secs(5), Duration::from_secs(10), 42);
        assert!(
            half.contains(&format!("[{}{}]", "#".repeat(15), ".".repeat(15))),
            "{half}"
        );
        assert!(half.ends_with("5 / 10 s, 42 packets received"), "{half}");
        let over = super::bar(Duration::from_secs(12), Duration::from_secs(10), 0);
        assert!(over.contains(&"#".repeat(30)), "{over}");
    }
}
