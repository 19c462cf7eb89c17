//! The real binary stopped with calls in every state: killed (`kill -9`) or asked to stop
//! (SIGTERM, with a drain), then started again on the same data. No call loses its record,
//! waiting kiosks get their calls back at their places, the ringing call is offered again, no
//! id is reused; and a store that cannot be written is visible and loses nothing.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use relais_e2e::{RunningServer, http_get, temp_dir};
use relais_loadgen::signal::Signal;
use relais_loadgen::token::sign;
use relais_proto::{EndReason, Outcome};
use relais_store::Store;
use serde_json::{Value, json};

const SECRET: &str = "recovery-test-secret-0123456789";
const WAIT: Duration = Duration::from_secs(10);

fn config(data: &Path, recovery: &str) -> String {
    format!(
        "data_dir = \"{}\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n[auth]\nsecret = \"{SECRET}\"\ndevelopment = false\n\
         [media]\nshards = 1\nport = 0\n[recovery]\n{recovery}\n\
         [[services]]\nid = \"caf\"\nname = \"CAF\"\nwrap_up_secs = 300\noffer_timeout_secs = 300\n\
         [[services.skills]]\nskill = \"caf\"\n\
         [[services]]\nid = \"cpam\"\nname = \"CPAM\"\nwrap_up_secs = 300\noffer_timeout_secs = 300\n\
         [[services.skills]]\nskill = \"cpam\"\n",
        data.display()
    )
}

fn ws(server: &RunningServer) -> String {
    format!("ws://{}/ws", server.addr)
}

async fn kiosk(server: &RunningServer, name: &str) -> Signal {
    let token = sign(SECRET.as_bytes(), "kiosk", name, Some("mairie"), &[], 3600);
    Signal::connect(&ws(server), &token).await.unwrap()
}

async fn agent(server: &RunningServer, name: &str, skill: &str) -> Signal {
    let token = sign(SECRET.as_bytes(), "agent", name, None, &[(skill, 3)], 3600);
    let mut agent = Signal::connect(&ws(server), &token).await.unwrap();
    agent
        .ok(json!({"type": "set_state", "state": "ready"}))
        .await
        .unwrap();
    agent
}

/// The kiosk calls `service`: its call id.
async fn call(kiosk: &mut Signal, service: &str) -> u64 {
    let result = kiosk
        .ok(json!({"type": "call", "service": service}))
        .await
        .unwrap();
    result["call"].as_u64().unwrap()
}

/// An agent signing in again: the state the server gives it, once it has settled (the first
/// push is always `not_ready` "login").
async fn returning_agent(server: &RunningServer, name: &str, skill: &str) -> (Signal, Value) {
    let token = sign(SECRET.as_bytes(), "agent", name, None, &[(skill, 3)], 3600);
    let mut agent = Signal::connect(&ws(server), &token).await.unwrap();
    let login = agent.expect("agent_state", WAIT).await.unwrap();
    assert_eq!(
        (login["state"].as_str(), login["reason"].as_str()),
        (Some("not_ready"), Some("login"))
    );
    let back = agent
        .expect("agent_state", Duration::from_secs(1))
        .await
        .unwrap_or(login);
    (agent, back)
}

/// The agent is offered `call` and accepts it.
async fn accept(agent: &mut Signal, call: u64) {
    let offered = agent.expect("offered", WAIT).await.unwrap();
    assert_eq!(offered["call"].as_u64(), Some(call), "{offered}");
    agent
        .ok(json!({"type": "accept", "call": call}))
        .await
        .unwrap();
}

/// The kiosk's latest position, waiting for pushes until `want` (or the time is up).
async fn position(kiosk: &mut Signal, want: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    let mut last = 0;
    while Instant::now() < deadline {
        let Ok(push) = kiosk.expect("queue_position", Duration::from_secs(1)).await else {
            continue;
        };
        last = push["position"].as_u64().unwrap();
        if last == want {
            break;
        }
    }
    last
}

fn store(data: &Path) -> Store {
    Store::open(&data.join("relais.sqlite3")).unwrap()
}

fn record(data: &Path, call: u64) -> Option<relais_store::CallRecord> {
    store(data).call(call).unwrap()
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {limit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_loses_no_record_and_no_waiting_kiosk_its_place() {
    let dir = temp_dir("recovery-kill");
    let data = dir.join("data");
    let config = config(&data, "grace_secs = 8");
    let mut server = RunningServer::start_in(dir.clone(), &config);

    // Bob answers a call and hangs up: he is in wrap-up. Alice is on a call. Carla is offered
    // a call she has not answered. Three kiosks wait, one of which will not come back.
    let mut bob = agent(&server, "bob", "caf").await;
    let mut k0 = kiosk(&server, "borne-0").await;
    let c0 = call(&mut k0, "caf").await;
    accept(&mut bob, c0).await;
    bob.ok(json!({"type": "hangup"})).await.unwrap();
    let mut alice = agent(&server, "alice", "caf").await;
    let mut k1 = kiosk(&server, "borne-1").await;
    let c1 = call(&mut k1, "caf").await;
    accept(&mut alice, c1).await;
    let mut carla = agent(&server, "carla", "cpam").await;
    let mut k4 = kiosk(&server, "borne-4").await;
    let c4 = call(&mut k4, "cpam").await;
    let ringing = carla.expect("offered", WAIT).await.unwrap();
    assert_eq!(ringing["call"].as_u64(), Some(c4));
    let mut k2 = kiosk(&server, "borne-2").await;
    let c2 = call(&mut k2, "caf").await;
    let mut k3 = kiosk(&server, "borne-3").await;
    let c3 = call(&mut k3, "caf").await;
    let mut k6 = kiosk(&server, "borne-6").await;
    let c6 = call(&mut k6, "caf").await;
    assert_eq!(position(&mut k3, 2).await, 2);
    // Dora has paused for lunch; Eve is signed in and has never become ready.
    let mut dora = agent(&server, "dora", "cpam").await;
    dora.ok(json!({"type": "set_state", "state": "not_ready", "reason": "dejeuner"}))
        .await
        .unwrap();
    let eve_token = sign(
        SECRET.as_bytes(),
        "agent",
        "eve",
        None,
        &[("cpam", 3)],
        3600,
    );
    let eve = Signal::connect(&ws(&server), &eve_token).await.unwrap();
    // The last heartbeat dates the crash.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let pid = server.pid();
    server.signal("KILL");
    // Killed by a signal: no exit code; once reaped, the process is gone.
    assert_eq!(server.wait_exit(WAIT), None);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "killed");
    drop((k0, k1, k2, k3, k4, k6, alice, bob, carla, dora, eve));
    for c in [c0, c1, c2, c3, c4, c6] {
        assert!(
            record(&data, c).is_none_or(|r| r.call_id == c0),
            "only the ended call {c0} has a record before the restart"
        );
    }

    let started = Instant::now();
    let server = RunningServer::start_in(dir.clone(), &config);
    let ready_after = started.elapsed();
    // The connected call is recorded interrupted at the crash, with its legs.
    let cut = record(&data, c1).expect("the connected call has a record");
    assert_eq!(cut.outcome, Outcome::Interrupted);
    assert_eq!(cut.end_reason, Some(EndReason::Restart));
    assert_eq!(cut.agent.as_deref(), Some("alice"));
    assert!(
        cut.ended_at_ms <= killed_at && cut.ended_at_ms >= killed_at - 5_000,
        "ended at the last heartbeat: {} vs kill at {killed_at}",
        cut.ended_at_ms
    );
    let legs = store(&data).legs_of(c1).unwrap();
    let who: Vec<(&str, &str)> = legs
        .iter()
        .map(|l| (l.role.as_str(), l.subject.as_str()))
        .collect();
    assert_eq!(who, vec![("kiosk", "borne-1"), ("agent", "alice")]);
    // Bob's wrap-up, cut by the crash, is completed.
    let wrapped = record(&data, c0).unwrap();
    assert_eq!(wrapped.outcome, Outcome::Answered);
    assert!(
        wrapped.wrap_up_ms.is_some_and(|ms| ms >= 1_000),
        "{wrapped:?}"
    );

    // Agents get back the state they had: Dora is still at lunch, Eve signs in as usual. Bob
    // does not come back: from the crash on, he is recorded paused for the restart.
    let (dora, back) = returning_agent(&server, "dora", "cpam").await;
    assert_eq!(
        (back["state"].as_str(), back["reason"].as_str()),
        (Some("not_ready"), Some("dejeuner"))
    );
    let (eve, back) = returning_agent(&server, "eve", "cpam").await;
    assert_eq!(back["reason"], "login", "{back}");
    let bob_states = store(&data)
        .agent_states_of_agent_between("bob", 0, i64::MAX)
        .unwrap();
    let last = bob_states.last().unwrap();
    assert_eq!(
        (last.state.as_str(), last.reason.as_deref()),
        ("not_ready", Some("restart"))
    );
    assert!(
        last.at_ms <= killed_at && last.at_ms >= killed_at - 5_000,
        "paused from the crash on: {last:?}"
    );

    // Kiosks come back in another order than they called: each gets its call and its place.
    let mut k3 = kiosk(&server, "borne-3").await;
    assert_eq!(call(&mut k3, "caf").await, c3, "the same call id");
    let mut k2 = kiosk(&server, "borne-2").await;
    assert_eq!(call(&mut k2, "caf").await, c2);
    assert_eq!(position(&mut k2, 1).await, 1, "borne-2 called first");
    assert_eq!(position(&mut k3, 2).await, 2);
    // Alice was on a call: she takes calls again.
    let (alice, back) = returning_agent(&server, "alice", "caf").await;
    assert_eq!(back["state"], "available", "{back}");
    // The call that rang is offered again once its kiosk and an agent are back.
    let mut k4 = kiosk(&server, "borne-4").await;
    assert_eq!(call(&mut k4, "cpam").await, c4);
    let (mut carla, back) = returning_agent(&server, "carla", "cpam").await;
    assert_eq!(
        back["state"], "available",
        "carla was offered a call: {back}"
    );
    accept(&mut carla, c4).await;
    // A new call never takes an id of the calls before.
    let mut k7 = kiosk(&server, "borne-7").await;
    let c7 = call(&mut k7, "caf").await;
    assert!(c7 > [c0, c1, c2, c3, c4, c6].into_iter().max().unwrap());
    // The kiosk that did not come back: recorded once its grace period is over.
    wait_until(
        "the abandoned call's record",
        Duration::from_secs(15),
        || record(&data, c6).is_some(),
    );
    let lost = record(&data, c6).unwrap();
    assert_eq!(
        (lost.outcome, lost.end_reason),
        (Outcome::Interrupted, Some(EndReason::Restart))
    );
    println!(
        "restart to ready: {:.0} ms; k2 and k3 kept positions 1 and 2",
        ready_after.as_secs_f64() * 1000.0
    );
    drop((k2, k3, k4, k7, carla, alice, dora, eve));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_everyone_lets_the_call_finish_and_keeps_the_waiting_one() {
    let dir = temp_dir("recovery-term");
    let data = dir.join("data");
    let config = config(&data, "drain_secs = 20\ngrace_secs = 30");
    let mut server = RunningServer::start_in(dir.clone(), &config);
    let mut alice = agent(&server, "alice", "caf").await;
    let mut k1 = kiosk(&server, "borne-1").await;
    let c1 = call(&mut k1, "caf").await;
    accept(&mut alice, c1).await;
    let mut k2 = kiosk(&server, "borne-2").await;
    let c2 = call(&mut k2, "caf").await;
    let mut k3 = kiosk(&server, "borne-3").await;

    server.signal("TERM");
    for signal in [&mut alice, &mut k1, &mut k2, &mut k3] {
        let told = signal.expect("server_shutting_down", WAIT).await.unwrap();
        assert!(told["retry_after_secs"].as_u64().unwrap() > 0);
    }
    let refused = k3
        .request(json!({"type": "call", "service": "caf"}))
        .await
        .unwrap();
    assert_eq!(refused["code"], "shutting_down", "{refused}");
    assert_eq!(http_get(server.addr, "/readyz").status, 503);
    // The drain lets the call in progress finish; the server stops once it has.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.wait_exit(Duration::from_millis(10)).is_none(),
        "drains"
    );
    alice.ok(json!({"type": "hangup"})).await.unwrap();
    let hung_up = Instant::now();
    assert_eq!(server.wait_exit(WAIT), Some(0));
    let stopped_after = hung_up.elapsed();
    let done = record(&data, c1).unwrap();
    assert_eq!(done.outcome, Outcome::Answered, "{done:?}");
    assert!(
        record(&data, c2).is_none(),
        "the waiting call is kept, not ended"
    );
    drop((alice, k1, k2, k3));

    let server = RunningServer::start_in(dir.clone(), &config);
    let mut k2 = kiosk(&server, "borne-2").await;
    assert_eq!(call(&mut k2, "caf").await, c2);
    println!(
        "stopped {:.0} ms after the last call ended",
        stopped_after.as_secs_f64() * 1000.0
    );
}

/// A tmpfs of `mib` MiB mounted at `at` (unmounted on drop).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u32) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root");
        Tmpfs(at.to_owned())
    }

    /// Fills the file system with one file; returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn metric(server: &RunningServer, name: &str) -> Option<f64> {
    http_get(server.addr, "/metrics")
        .body
        .lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_visible_refuses_calls_and_loses_no_record() {
    let dir = temp_dir("recovery-full");
    let data = dir.join("data");
    let disk = Tmpfs::mount(&data, 4);
    let server = RunningServer::start_in(dir.clone(), &config(&data, ""));
    let mut kiosks = Vec::new();
    let mut calls = Vec::new();
    for n in 0..6 {
        let mut k = kiosk(&server, &format!("borne-{n}")).await;
        calls.push(call(&mut k, "caf").await);
        kiosks.push(k);
    }
    assert_eq!(http_get(server.addr, "/readyz").status, 200);

    let filler = disk.fill();
    for k in &mut kiosks {
        let reply = k.request(json!({"type": "cancel"})).await.unwrap();
        assert_eq!(reply["type"], "ok", "{reply}");
    }
    wait_until("readyz 503", WAIT, || {
        http_get(server.addr, "/readyz").status == 503
    });
    assert_eq!(metric(&server, "relais_store_healthy"), Some(0.0));
    assert!(metric(&server, "relais_store_pending_writes").unwrap() >= 6.0);
    let mut late = kiosk(&server, "borne-late").await;
    let refused: Value = late
        .request(json!({"type": "call", "service": "caf"}))
        .await
        .unwrap();
    assert_eq!(refused["code"], "store_unavailable", "{refused}");

    // Space comes back: what waited is written, the server is ready again.
    std::fs::remove_file(filler).unwrap();
    wait_until("readyz 200 again", Duration::from_secs(20), || {
        http_get(server.addr, "/readyz").status == 200
    });
    for c in &calls {
        let written = record(&data, *c).unwrap_or_else(|| panic!("call {c} lost"));
        assert!(matches!(
            written.outcome,
            Outcome::Abandoned | Outcome::AbandonedShort
        ));
    }
    assert_eq!(metric(&server, "relais_store_pending_writes"), Some(0.0));
    call(&mut late, "caf").await;
    drop(server);
    drop(disk);
}
