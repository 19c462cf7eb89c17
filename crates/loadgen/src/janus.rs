//! The same load through Janus 1.1.2's `videocall` plugin (HTTP API), for a side-by-side
//! comparison with Relais: per call a caller and a callee (the same synthetic browsers as for
//! Relais) register, the caller calls with its offer, the callee answers the offer Janus
//! relays, media flows both ways for the set time, and the same figures are gathered, Janus's
//! CPU read from `/proc/<pid>/stat` like Relais's.
//!
//! The HTTP client is deliberately tiny: one `Connection: close` HTTP/1.1 request per call on a
//! tokio `TcpStream`, JSON bodies. Janus does not use loopback addresses for ICE, so run Janus
//! and the load inside a network namespace with a veth address and bind the peers to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

use crate::http::json as http;
use crate::measure;
use crate::peer::{MediaProfile, Peer};
use crate::report::Report;

/// What to run against Janus.
#[derive(Debug, Clone)]
pub struct JanusConfig {
    /// The Janus HTTP API root, e.g. `http://198.18.0.1:8088/janus`.
    pub url: String,
    pub calls: usize,
    /// Calls started per second.
    pub ramp_per_sec: f64,
    pub media: Duration,
    pub profile: MediaProfile,
    /// Local address the synthetic browsers bind to (not loopback: Janus ignores it).
    pub bind_ip: String,
    /// Janus's process, for CPU and memory.
    pub server_pid: Option<u32>,
    /// Print progress to stderr.
    pub progress: bool,
}

const STEP: Duration = Duration::from_secs(20);
const KEEPALIVE: Duration = Duration::from_secs(30);

static TRANSACTION: AtomicU64 = AtomicU64::new(1);

fn transaction() -> String {
    format!("lg{}", TRANSACTION.fetch_add(1, Ordering::Relaxed))
}

/// The `janus` field of a reply, with errors turned into `Err`.
fn check(reply: Value, wanted: &[&str]) -> anyhow::Result<Value> {
    let kind = reply["janus"].as_str().unwrap_or("");
    if wanted.contains(&kind) {
        return Ok(reply);
    }
    bail!("Janus replied {reply}")
}

/// A Janus session with one `videocall` handle, its events read by a long-poll task.
struct Session {
    session_url: String,
    handle_url: String,
    events: mpsc::UnboundedReceiver<Value>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Session {
    async fn open(root: &str) -> anyhow::Result<Self> {
        let created = check(
            http(
                "POST",
                root,
                Some(&json!({"janus": "create", "transaction": transaction()})),
            )
            .await?,
            &["success"],
        )?;
        let session = created["data"]["id"].as_u64().context("no session id")?;
        let session_url = format!("{root}/{session}");
        let attached = check(
            http(
                "POST",
                &session_url,
                Some(&json!({
                    "janus": "attach",
                    "plugin": "janus.plugin.videocall",
                    "transaction": transaction(),
                })),
            )
            .await?,
            &["success"],
        )?;
        let handle = attached["data"]["id"].as_u64().context("no handle id")?;
        let handle_url = format!("{session_url}/{handle}");
        let (tx, events) = mpsc::unbounded_channel();
        let poll_url = format!("{session_url}?maxev=10");
        let poller = tokio::spawn(async move {
            loop {
                match http("GET", &poll_url, None).await {
                    Ok(Value::Array(list)) => {
                        for event in list {
                            if tx.send(event).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(event) => {
                        if event["janus"] == "error" {
                            // The session is gone.
                            return;
                        }
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        if tx.is_closed() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        let keepalive_url = session_url.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE).await;
                let _ = http(
                    "POST",
                    &keepalive_url,
                    Some(&json!({"janus": "keepalive", "transaction": transaction()})),
                )
                .await;
            }
        });
        Ok(Self {
            session_url,
            handle_url,
            events,
            tasks: vec![poller, keepalive],
        })
    }

    /// Sends a plugin message (with an optional JSEP); the plugin's answer comes as an event.
    async fn message(&self, body: Value, jsep: Option<Value>) -> anyhow::Result<()> {
        let mut request = json!({"janus": "message", "transaction": transaction(), "body": body});
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        let with_jsep = request.get("jsep").is_some();
        if std::env::var_os("LOADGEN_JANUS_DEBUG").is_some() {
            eprintln!("→ janus {request}");
        }
        check(
            http("POST", &self.handle_url, Some(&request)).await?,
            &["ack", "success"],
        )?;
        if with_jsep {
            // Our SDP carries all our candidates: tell Janus there are no more to trickle.
            check(
                http(
                    "POST",
                    &self.handle_url,
                    Some(&json!({
                        "janus": "trickle",
                        "transaction": transaction(),
                        "candidate": {"completed": true},
                    })),
                )
                .await?,
                &["ack", "success"],
            )?;
        }
        Ok(())
    }

    /// Waits for the `videocall` event `name` (skipping others); a plugin error fails.
    async fn expect(&mut self, name: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .with_context(|| format!("no `{name}` from Janus within {timeout:?}"))?
                .context("Janus session closed")?;
            if std::env::var_os("LOADGEN_JANUS_DEBUG").is_some() {
                eprintln!("← janus {event}");
            }
            if event["janus"] != "event" {
                continue;
            }
            let data = &event["plugindata"]["data"];
            if let Some(error) = data["error"].as_str() {
                bail!("videocall error while waiting for `{name}`: {error}");
            }
            if data["result"]["event"] == name {
                return Ok(event);
            }
            if data["result"]["event"] == "hangup" {
                bail!("hung up while waiting for `{name}`: {data}");
            }
        }
    }

    async fn register(&mut self, username: &str) -> anyhow::Result<()> {
        self.message(json!({"request": "register", "username": username}), None)
            .await?;
        self.expect("registered", STEP).await?;
        Ok(())
    }

    async fn destroy(self) {
        let _ = http(
            "POST",
            &self.session_url,
            Some(&json!({"janus": "destroy", "transaction": transaction()})),
        )
        .await;
    }
}

impl Drop for Session {
    /// Stops the long-poll and keepalive tasks (also when a call fails half-way).
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn sdp_of(event: &Value) -> anyhow::Result<String> {
    Ok(event["jsep"]["sdp"]
        .as_str()
        .context("event without a JSEP")?
        .to_owned())
}

struct Call {
    caller: Peer,
    callee: Peer,
    caller_session: Session,
    callee_session: Session,
    accepted_at: Instant,
}

async fn set_up(
    root: &str,
    prefix: &str,
    i: usize,
    bind: &str,
    epoch: Instant,
) -> anyhow::Result<Call> {
    let callee_name = format!("{prefix}-agent-{i}");
    let mut callee_session = Session::open(root).await?;
    callee_session.register(&callee_name).await?;
    let mut caller_session = Session::open(root).await?;
    caller_session
        .register(&format!("{prefix}-kiosk-{i}"))
        .await?;

    let (caller, offer) = Peer::new(bind, 200_000 + i as u32, epoch).await?;
    caller_session
        .message(
            json!({"request": "call", "username": callee_name}),
            Some(json!({"type": "offer", "sdp": offer})),
        )
        .await?;
    let incoming = callee_session.expect("incomingcall", STEP).await?;
    let (callee, answer) =
        Peer::answer_offer(bind, 100_000 + i as u32, epoch, sdp_of(&incoming)?).await?;
    callee_session
        .message(
            json!({"request": "accept"}),
            Some(json!({"type": "answer", "sdp": answer})),
        )
        .await?;
    let accepted_at = Instant::now();
    let accepted = caller_session.expect("accepted", STEP).await?;
    caller.answer(sdp_of(&accepted)?).await?;
    if !measure::wait_connected(&[&caller], STEP).await {
        bail!("caller {i} did not connect");
    }
    Ok(Call {
        caller,
        callee,
        caller_session,
        callee_session,
        accepted_at,
    })
}

/// Runs the load through Janus and returns the same report as [`crate::run::run`].
pub async fn run(config: JanusConfig) -> anyhow::Result<Report> {
    let root = config.url.trim_end_matches('/').to_owned();
    let epoch = Instant::now();
    // Usernames unique per run: a session left over from an earlier run keeps its name.
    let prefix = format!(
        "load{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() % 1_000_000)
            .unwrap_or(0)
    );
    let established = Arc::new(AtomicUsize::new(0));
    let calls: Arc<Mutex<Vec<Call>>> = Arc::new(Mutex::new(Vec::new()));
    let gap = Duration::from_secs_f64(1.0 / config.ramp_per_sec.max(0.01));
    let mut tasks = Vec::new();
    for i in 0..config.calls {
        let root = root.clone();
        let prefix = prefix.clone();
        let bind = config.bind_ip.clone();
        let calls = Arc::clone(&calls);
        let counter = Arc::clone(&established);
        tasks.push(tokio::spawn(async move {
            let call = set_up(&root, &prefix, i, &bind, epoch).await?;
            counter.fetch_add(1, Ordering::Relaxed);
            calls.lock().await.push(call);
            anyhow::Ok(())
        }));
        if config.progress {
            eprint!(
                "\rcalling {}/{} through Janus (established {})   ",
                i + 1,
                config.calls,
                established.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(gap).await;
    }
    measure::join_set_up(
        tasks,
        &established,
        config.calls,
        "through Janus",
        config.progress,
    )
    .await;
    let calls = std::mem::take(&mut *calls.lock().await);
    let callees: Vec<&Peer> = calls.iter().map(|call| &call.callee).collect();
    // The callees connect a moment after the callers that the set-up waited for.
    measure::wait_connected(&callees, STEP).await;

    // Media window and figures: the same code as for Relais.
    let report = measure::measure_calls(
        measure::Calls {
            server: root,
            requested: config.calls,
            established: established.load(Ordering::Relaxed),
            peers: calls
                .iter()
                .flat_map(|call| [&call.caller, &call.callee])
                .collect(),
            answered: calls
                .iter()
                .map(|call| (call.accepted_at, &call.callee))
                .collect(),
        },
        config.profile,
        config.media,
        config.server_pid,
        None,
        config.progress,
    )
    .await;

    // Hang up.
    for call in calls {
        let _ = call
            .caller_session
            .message(json!({"request": "hangup"}), None)
            .await;
        call.caller.close().await;
        call.callee.close().await;
        call.caller_session.destroy().await;
        call.callee_session.destroy().await;
    }

    Ok(report)
}
