//! One load run: agents sign in and get ready, kiosks call at the ramp rate, every call is
//! answered and negotiated through the real signalling, media flows both ways for the set
//! time, then every call is hung up and the figures are gathered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::sync::Mutex;

use crate::measure;
use crate::peer::{MediaProfile, Peer};
use crate::report::Report;
use crate::signal::Signal;
use crate::token;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// `http://host:port` of the server.
    pub server: String,
    /// The server's token secret.
    pub secret: Vec<u8>,
    pub service: String,
    pub calls: usize,
    /// Calls started per second.
    pub ramp_per_sec: f64,
    pub media: Duration,
    pub profile: MediaProfile,
    /// Local address the synthetic browsers bind to.
    pub bind_ip: String,
    /// The server's process, for CPU and memory.
    pub server_pid: Option<u32>,
    /// Print progress to stderr.
    pub progress: bool,
}

struct CallSide {
    peer: Peer,
    signal: Signal,
    accepted_at: Option<Instant>,
}

const STEP: Duration = Duration::from_secs(20);

/// Runs the load and returns its report.
pub async fn run(config: RunConfig) -> anyhow::Result<Report> {
    let ws_url = format!("{}/ws", config.server.replacen("http", "ws", 1));
    let epoch = Instant::now();
    let skills = [(config.service.as_str(), 5u8)];

    // Agents first: all ready before the first call.
    let mut agents = Vec::with_capacity(config.calls);
    for i in 0..config.calls {
        let token = token::sign(
            &config.secret,
            "agent",
            &format!("load-agent-{i}"),
            None,
            &skills,
            3600,
        );
        let mut signal = Signal::connect(&ws_url, &token).await?;
        signal
            .ok(json!({"type": "set_state", "state": "ready"}))
            .await?;
        agents.push(signal);
    }
    let established = Arc::new(AtomicUsize::new(0));
    let agent_sides: Arc<Mutex<Vec<CallSide>>> = Arc::new(Mutex::new(Vec::new()));
    let kiosk_sides: Arc<Mutex<Vec<CallSide>>> = Arc::new(Mutex::new(Vec::new()));

    // Each agent answers whatever it is offered.
    let mut agent_tasks = Vec::new();
    for (i, mut signal) in agents.into_iter().enumerate() {
        let sides = Arc::clone(&agent_sides);
        let bind = config.bind_ip.clone();
        agent_tasks.push(tokio::spawn(async move {
            let offered = signal.expect("offered", Duration::from_secs(120)).await?;
            let call = offered["call"].clone();
            signal.ok(json!({"type": "accept", "call": call})).await?;
            let accepted_at = Instant::now();
            signal.expect("media_ready", STEP).await?;
            let (peer, offer) = Peer::new(&bind, 100_000 + i as u32, epoch).await?;
            let answer = signal
                .ok(json!({"type": "sdp_offer", "sdp": offer}))
                .await?;
            peer.answer(answer["sdp"].as_str().context("no answer")?.to_owned())
                .await?;
            sides.lock().await.push(CallSide {
                peer,
                signal,
                accepted_at: Some(accepted_at),
            });
            anyhow::Ok(())
        }));
    }

    // Kiosks call at the ramp rate.
    let gap = Duration::from_secs_f64(1.0 / config.ramp_per_sec.max(0.01));
    let mut kiosk_tasks = Vec::new();
    for i in 0..config.calls {
        let token = token::sign(
            &config.secret,
            "kiosk",
            &format!("load-kiosk-{i}"),
            Some("load"),
            &[],
            3600,
        );
        let ws_url = ws_url.clone();
        let service = config.service.clone();
        let sides = Arc::clone(&kiosk_sides);
        let bind = config.bind_ip.clone();
        let counter = Arc::clone(&established);
        kiosk_tasks.push(tokio::spawn(async move {
            let mut signal = Signal::connect(&ws_url, &token).await?;
            signal
                .ok(json!({"type": "call", "service": service}))
                .await?;
            signal
                .expect("media_ready", Duration::from_secs(120))
                .await?;
            let (peer, offer) = Peer::new(&bind, 200_000 + i as u32, epoch).await?;
            let answer = signal
                .ok(json!({"type": "sdp_offer", "sdp": offer}))
                .await?;
            peer.answer(answer["sdp"].as_str().context("no answer")?.to_owned())
                .await?;
            if !measure::wait_connected(&[&peer], STEP).await {
                bail!("kiosk {i} did not connect");
            }
            counter.fetch_add(1, Ordering::Relaxed);
            sides.lock().await.push(CallSide {
                peer,
                signal,
                accepted_at: None,
            });
            anyhow::Ok(())
        }));
        if config.progress {
            eprint!(
                "\rcalling {}/{} (established {})   ",
                i + 1,
                config.calls,
                established.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(gap).await;
    }
    measure::join_set_up(
        kiosk_tasks.into_iter().chain(agent_tasks).collect(),
        &established,
        config.calls,
        "through Relais",
        config.progress,
    )
    .await;
    let kiosks = std::mem::take(&mut *kiosk_sides.lock().await);
    let agents = std::mem::take(&mut *agent_sides.lock().await);
    let agent_peers: Vec<&Peer> = agents.iter().map(|side| &side.peer).collect();
    // The agents' peers connect a moment after the kiosks' that the set-up waited for.
    measure::wait_connected(&agent_peers, STEP).await;

    // Media window, then figures.
    let report = measure::measure_calls(
        measure::Calls {
            server: config.server.clone(),
            requested: config.calls,
            established: established.load(Ordering::Relaxed),
            peers: kiosks
                .iter()
                .chain(agents.iter())
                .map(|side| &side.peer)
                .collect(),
            answered: agents
                .iter()
                .filter_map(|side| Some((side.accepted_at?, &side.peer)))
                .collect(),
        },
        config.profile,
        config.media,
        config.server_pid,
        Some(&config.server),
        config.progress,
    )
    .await;

    // Hang up.
    for mut side in kiosks.into_iter() {
        let _ = side.signal.request(json!({"type": "hangup"})).await;
        let _ = side
            .signal
            .expect("call_ended", Duration::from_secs(5))
            .await;
        side.peer.close().await;
    }
    for side in agents {
        side.peer.close().await;
        let _ = side.signal;
    }

    Ok(report)
}
