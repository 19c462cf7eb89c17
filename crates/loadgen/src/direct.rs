//! The baseline: the same synthetic calls with no server between the two sides — the kiosk's
//! peer offers, the agent's peer answers, both in this process — so the delay the clients'
//! own stacks add on this machine is known, and what a server adds can be read against it.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::measure;
use crate::peer::{MediaProfile, Peer};
use crate::report::Report;

/// What to run without a server.
#[derive(Debug, Clone)]
pub struct DirectConfig {
    pub calls: usize,
    pub media: Duration,
    pub profile: MediaProfile,
    /// Local address both sides bind to.
    pub bind_ip: String,
    /// Print progress to stderr.
    pub progress: bool,
}

const CONNECT: Duration = Duration::from_secs(20);

/// One call: the kiosk's offer answered directly by the agent.
async fn connect(bind: &str, i: usize, epoch: Instant) -> anyhow::Result<(Peer, Peer, Instant)> {
    let (kiosk, offer) = Peer::new(bind, 200_000 + i as u32, epoch).await?;
    let (agent, answer) = Peer::answer_offer(bind, 100_000 + i as u32, epoch, offer).await?;
    let answered_at = Instant::now();
    kiosk.answer(answer).await?;
    if !measure::wait_connected(&[&kiosk, &agent], CONNECT).await {
        bail!("direct call {i} did not connect");
    }
    Ok((kiosk, agent, answered_at))
}

/// Runs the calls peer to peer and returns the same report as [`crate::run::run`] (without
/// server figures).
pub async fn run(config: DirectConfig) -> anyhow::Result<Report> {
    let epoch = Instant::now();
    let mut calls = Vec::with_capacity(config.calls);
    let mut failures = 0;
    for i in 0..config.calls {
        match connect(&config.bind_ip, i, epoch).await {
            Ok(call) => calls.push(call),
            Err(err) => {
                failures += 1;
                if failures <= 5 {
                    eprintln!("call failed: {err:#}");
                }
            }
        }
        if config.progress {
            eprint!(
                "\rconnected {}/{} direct calls   ",
                calls.len(),
                config.calls
            );
        }
    }
    if config.progress {
        eprintln!();
    }
    let report = measure::measure_calls(
        measure::Calls {
            server: "direct (no server)".to_owned(),
            requested: config.calls,
            established: calls.len(),
            peers: calls.iter().flat_map(|(k, a, _)| [k, a]).collect(),
            answered: calls.iter().map(|(_, agent, at)| (*at, agent)).collect(),
        },
        config.profile,
        config.media,
        None,
        None,
        config.progress,
    )
    .await;
    for (kiosk, agent, _) in calls {
        kiosk.close().await;
        agent.close().await;
    }
    Ok(report)
}
