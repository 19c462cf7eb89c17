//! Journal replay as a property: a random run of kiosks calling and cancelling and agents
//! pausing, answering, hanging up and wrapping up goes through both cores as the call task
//! runs them, each turn's outputs written to a real SQLite file as the task writes them. After
//! every step the journal mirrors the live cores (the calls waiting, connected and in wrap-up;
//! each agent's state); then the server "restarts" on that file: the calls that waited come
//! back at their places in their queues when their kiosks call again, the connected ones are
//! recorded interrupted, and the agents that return get their state back.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use relais::calls::{Cores, stored};
use relais_call::{CallConfig, CallCore, Input, Output, SessionId};
use relais_dispatch::{
    AgentState, CallStatus, DispatchConfig, Dispatcher, Event, QueueConfig, WallAnchor,
};
use relais_proto::{AgentId, CallId, Outcome, Role};
use relais_store::{LiveState, Store};

const KIOSKS: usize = 6;
const AGENTS: usize = 3;
const SERVICES: [&str; 2] = ["caf", "cpam"];
const GRACE: Duration = Duration::from_secs(120);

/// Per queue, its waiting calls in order: (call, kiosk, enqueue time in Unix ms).
type Queues = BTreeMap<String, Vec<(u64, String, i64)>>;
/// Waiting calls by id: (queue, kiosk, enqueue time in Unix ms).
type Waiting = BTreeMap<u64, (String, String, i64)>;
/// Connected calls by id: their agent.
type Connected = BTreeMap<u64, String>;

#[derive(Debug, Clone)]
enum Step {
    Call(usize, usize),
    Cancel(usize),
    Ready(usize),
    Pause(usize),
    Accept(usize),
    Hangup(usize),
    WrapUp(usize),
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..KIOSKS, 0..SERVICES.len()).prop_map(|(k, s)| Step::Call(k, s)),
        1 => (0..KIOSKS).prop_map(Step::Cancel),
        2 => (0..AGENTS).prop_map(Step::Ready),
        1 => (0..AGENTS).prop_map(Step::Pause),
        3 => (0..AGENTS).prop_map(Step::Accept),
        2 => (0..KIOSKS).prop_map(Step::Hangup),
        2 => (0..AGENTS).prop_map(Step::WrapUp),
        2 => (1u64..40).prop_map(Step::Advance),
    ]
}

fn agent(a: usize) -> AgentId {
    AgentId::from(format!("agent-{a}"))
}

fn agent_session(a: usize) -> SessionId {
    a as SessionId + 1
}

fn kiosk_session(k: usize, run: u64) -> SessionId {
    run * 1_000 + 100 + k as SessionId
}

fn kiosk(k: usize) -> String {
    format!("borne-{k}")
}

fn config() -> DispatchConfig {
    let queues = SERVICES
        .iter()
        .map(|id| {
            let mut q = QueueConfig::new(*id);
            q.offer_timeout = Duration::from_secs(20);
            q.wrap_up = Duration::from_secs(60);
            q
        })
        .collect();
    DispatchConfig::with_queues(queues)
}

/// One run of the server: its cores and the store they write to.
struct Run<'a> {
    cores: Cores,
    anchor: WallAnchor,
    store: &'a Store,
    now: Instant,
    /// Kiosk sessions opened in this run.
    open: Vec<bool>,
    run: u64,
}

impl<'a> Run<'a> {
    fn new(store: &'a Store, anchor: WallAnchor, run: u64) -> Self {
        let dispatcher = Dispatcher::new(config(), 11, anchor).unwrap();
        let core = CallCore::new(CallConfig {
            refusals_per_minute: u32::MAX,
            ..CallConfig::default()
        });
        Self {
            cores: Cores::new(dispatcher, core),
            anchor,
            store,
            now: anchor.at,
            open: vec![false; KIOSKS],
            run,
        }
    }

    /// The call task's commit of a turn: every output that is stored, in one transaction.
    fn commit(&mut self) {
        let now_ms = self.unix_ms(self.now);
        let mut ops = Vec::new();
        while let Some(output) = self.cores.poll_effect() {
            match output {
                Output::Journal(entry) => ops.push(stored::live(&self.anchor, &entry, now_ms)),
                Output::Record(ended) => ops.push(stored::ended(&self.anchor, &ended)),
                Output::WrapUp {
                    call,
                    agent,
                    wrap_up,
                    disposition,
                } => ops.push(stored::wrap_up(call, agent, wrap_up, disposition)),
                Output::AgentState {
                    agent,
                    state,
                    since,
                } => ops.push(stored::agent_state(&self.anchor, &agent, &state, since)),
                _ => {}
            }
        }
        ops.push(relais_store::JournalOp::Heartbeat { at_ms: now_ms });
        self.store.commit_batch(&ops).unwrap();
    }

    fn unix_ms(&self, at: Instant) -> i64 {
        let base = self.anchor.utc.as_millisecond();
        match at.checked_duration_since(self.anchor.at) {
            Some(after) => base + after.as_millis() as i64,
            None => base - self.anchor.at.duration_since(at).as_millis() as i64,
        }
    }

    fn sign_in(&mut self, a: usize) {
        let _ = self
            .cores
            .sign_in_agent(self.now, agent_session(a), agent(a), Vec::new());
        self.commit();
    }

    fn place(&mut self, k: usize, service: &str, call: u64) {
        if !self.open[k] {
            self.open[k] = true;
            let _ = self.cores.input(
                self.now,
                Input::SessionOpened {
                    session: kiosk_session(k, self.run),
                    role: Role::Kiosk,
                    subject: kiosk(k),
                },
            );
        }
        let _ = self.cores.place(
            self.now,
            Input::Place {
                call: CallId(call),
                session: kiosk_session(k, self.run),
                kiosk: kiosk(k),
                site: "mairie".to_owned(),
                service: service.to_owned(),
                since: None,
            },
        );
        self.commit();
    }

    fn apply(&mut self, step: &Step, next_call: &mut u64) {
        match *step {
            Step::Call(k, s) => {
                *next_call += 1;
                self.place(k, SERVICES[s], *next_call);
                return;
            }
            Step::Cancel(k) => {
                let _ = self.cores.input(
                    self.now,
                    Input::Cancel {
                        session: kiosk_session(k, self.run),
                    },
                );
            }
            Step::Hangup(k) => {
                let _ = self.cores.input(
                    self.now,
                    Input::Hangup {
                        session: kiosk_session(k, self.run),
                    },
                );
            }
            Step::Ready(a) => {
                let _ = self
                    .cores
                    .dispatch(self.now, Event::AgentReady { agent: agent(a) });
            }
            Step::Pause(a) => {
                let _ = self.cores.dispatch(
                    self.now,
                    Event::AgentNotReady {
                        agent: agent(a),
                        reason: "pause".to_owned(),
                    },
                );
            }
            Step::Accept(a) => {
                if let Some((AgentState::Reserved { call, .. }, _)) =
                    self.cores.dispatcher().agent_state(&agent(a))
                {
                    let _ = self.cores.dispatch(
                        self.now,
                        Event::Accept {
                            call,
                            agent: agent(a),
                        },
                    );
                }
            }
            Step::WrapUp(a) => {
                let _ = self.cores.input(
                    self.now,
                    Input::WrapUpDone {
                        session: agent_session(a),
                        disposition: None,
                    },
                );
            }
            Step::Advance(secs) => {
                self.now += Duration::from_secs(secs);
                self.cores.timeout(self.now);
            }
        }
        self.commit();
    }

    /// The live cores' view: waiting calls per queue in order (on offer first, then queued in
    /// service order) with kiosk and enqueue time, connected calls with their agent.
    fn live(&self) -> (Queues, Connected) {
        let d = self.cores.dispatcher();
        let mut waiting = BTreeMap::new();
        let mut connected = BTreeMap::new();
        for q in SERVICES {
            let calls = d.waiting_calls(&q.into(), self.now);
            waiting.insert(
                q.to_owned(),
                calls
                    .iter()
                    .map(|c| (c.call.0, c.kiosk.to_string(), self.unix_ms(c.enqueued_at)))
                    .collect(),
            );
        }
        for id in d.active_calls() {
            if let Some(view) = d.call_view(id, self.now)
                && let CallStatus::Connected(agent) = view.status
            {
                connected.insert(id.0, agent.to_string());
            }
        }
        (waiting, connected)
    }
}

/// The journal's view, in the same shape.
fn journalled(store: &Store) -> (Waiting, Connected, BTreeMap<String, u64>) {
    let (mut waiting, mut connected, mut wrap_up) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for call in store.live_calls().unwrap() {
        match call.state {
            LiveState::Waiting => {
                waiting.insert(call.call_id, (call.queue, call.kiosk, call.enqueued_at_ms));
            }
            LiveState::Connected => {
                connected.insert(call.call_id, call.agent.unwrap());
            }
            LiveState::WrapUp => {
                wrap_up.insert(call.agent.unwrap(), call.call_id);
            }
        }
    }
    (waiting, connected, wrap_up)
}

fn check(steps: &[Step]) {
    let dir = std::env::temp_dir().join(format!(
        "relais-replay-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace(':', "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("relais.sqlite3")).unwrap();
    let anchor = WallAnchor {
        at: Instant::now(),
        utc: "2026-03-02T09:00:00Z".parse().unwrap(),
    };
    let mut live = Run::new(&store, anchor, 0);
    for a in 0..AGENTS {
        live.sign_in(a);
    }
    let mut next_call = 0;
    for (i, step) in steps.iter().enumerate() {
        live.apply(step, &mut next_call);
        let (waiting, connected) = live.live();
        let (j_waiting, j_connected, j_wrap_up) = journalled(&store);
        let flat: BTreeMap<u64, (String, String, i64)> = waiting
            .iter()
            .flat_map(|(q, calls)| {
                calls
                    .iter()
                    .map(move |(id, k, at)| (*id, (q.clone(), k.clone(), *at)))
            })
            .collect();
        assert_eq!(j_waiting, flat, "waiting calls after step {i} {step:?}");
        assert_eq!(
            j_connected, connected,
            "connected calls after step {i} {step:?}"
        );
        let in_wrap_up: BTreeMap<String, u64> = live
            .cores
            .dispatcher()
            .agents()
            .filter(|view| matches!(view.state, AgentState::WrapUp { .. }))
            .map(|view| view.agent.to_string())
            .zip(std::iter::repeat(0))
            .collect();
        let j_agents: Vec<&String> = j_wrap_up.keys().collect();
        assert_eq!(
            j_agents,
            in_wrap_up.keys().collect::<Vec<_>>(),
            "agents in wrap-up after step {i} {step:?}"
        );
        let states: BTreeMap<String, String> = store
            .last_agent_states()
            .unwrap()
            .into_iter()
            .map(|c| (c.agent, c.state))
            .collect();
        for view in live.cores.dispatcher().agents() {
            assert_eq!(
                states.get(view.agent.as_str()).map(String::as_str),
                Some(view.state.name().as_str()),
                "state of {} after step {i} {step:?}",
                view.agent
            );
        }
    }

    // The server stops and starts again on the same file, 5 s after the last heartbeat.
    let (waiting, connected) = live.live();
    let before: BTreeMap<String, (AgentState, Instant)> = live
        .cores
        .dispatcher()
        .agents()
        .map(|view| (view.agent.to_string(), (view.state.clone(), view.since)))
        .collect();
    let stopped_ms = live.unix_ms(live.now);
    let restart_at = live.now + Duration::from_secs(5);
    let anchor2 = WallAnchor {
        at: restart_at,
        utc: jiff::Timestamp::from_millisecond(stopped_ms + 5_000).unwrap(),
    };
    let recovery = relais::state::recover(&store).unwrap();
    let mut again = Run::new(&store, anchor2, 1);
    again.cores.restore(recovery, anchor2, GRACE);
    for call in connected.keys() {
        let record = store
            .call(*call)
            .unwrap()
            .expect("a connected call has a record");
        assert_eq!(record.outcome, Outcome::Interrupted, "call {call}");
        assert_eq!(
            record.ended_at_ms, stopped_ms,
            "ended at the last heartbeat"
        );
    }
    // Each kiosk that waited calls its service again, in kiosk order (not the order of
    // their calls): each gets its call back, at its place.
    let mut kiosks: Vec<(usize, String)> = waiting
        .iter()
        .flat_map(|(q, calls)| {
            calls.iter().map(move |(_, k, _)| {
                let n: usize = k["borne-".len()..].parse().unwrap();
                (n, q.clone())
            })
        })
        .collect();
    kiosks.sort();
    for (n, (k, q)) in kiosks.iter().enumerate() {
        again.place(*k, q, 1_000_000 + n as u64);
    }
    let (rebuilt, _) = again.live();
    for (q, calls) in &waiting {
        let mut expected = calls.clone();
        expected.sort_by_key(|&(id, _, at)| (at, id));
        assert_eq!(&rebuilt[q], &expected, "queue {q} rebuilt from the journal");
    }
    // Agents that come back get their state back: taking calls again, or their pause.
    for a in 0..AGENTS {
        again.sign_in(a);
        let (state, _) = again.cores.dispatcher().agent_state(&agent(a)).unwrap();
        let expected = match &before[&agent(a).to_string()].0 {
            AgentState::NotReady { reason } if reason == "pause" => "not_ready",
            AgentState::NotReady { .. } => "not_ready",
            _ => "available",
        };
        // A call given back may be offered to it at once.
        let got = match state {
            AgentState::Reserved { .. } => "available",
            other => other.name().as_str(),
        };
        assert_eq!(got, expected, "agent-{a} after the restart");
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_journal_rebuilds_the_cores_after_a_restart(steps in prop::collection::vec(step(), 1..50)) {
        check(&steps);
    }
}
