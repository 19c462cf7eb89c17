//! The call task's turns with the journal: the dispatcher and the call core as the server
//! runs them (`Cores`), each turn's outputs turned into the store's rows (`calls::stored`) and
//! committed in one transaction to a real SQLite file with the server's fsync policy (WAL,
//! `synchronous=FULL`), as the call task does before anything that follows them is said.
//!
//! The stream: 200 agents serve one queue where 100 calls wait; each cycle a kiosk opens its
//! session and calls, the kiosk of the oldest answered call hangs up and closes its session,
//! its agent ends its wrap-up (and is offered the oldest waiting call), and the agent offered
//! the oldest call accepts it. Measured: the cores alone, then with the journal committed after
//! every request (an idle task: one sync per request) and after every 16 (requests that queued
//! up while the task was busy share a turn and its commit).
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // virtual time starts at a real instant

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use relais::calls::{Cores, stored};
use relais_call::{CallConfig, CallCore, Input, Output, SessionId};
use relais_dispatch::{AgentState, DispatchConfig, Dispatcher, Event, QueueConfig, WallAnchor};
use relais_proto::{AgentId, CallId, Role};
use relais_store::{JournalOp, Store};

const AGENTS: u64 = 200;
const WAITING: usize = 100;
const STEP: Duration = Duration::from_micros(100);
/// Kiosk sessions are numbered from here; agent `i` has session `i`.
const KIOSKS: SessionId = 1_000_000;

struct Turns {
    cores: Cores,
    anchor: WallAnchor,
    store: Option<Store>,
    now: Instant,
    next_call: u64,
    /// Offers not yet accepted: (call, agent).
    offers: VecDeque<(CallId, AgentId)>,
    /// Answered calls: (kiosk session, agent).
    answered: VecDeque<(SessionId, AgentId)>,
    /// Kiosk session of each call.
    kiosk_of: BTreeMap<CallId, SessionId>,
    batch: Vec<JournalOp>,
    /// Requests per commit: 1 when each request finds the task idle, more when requests queue
    /// up and one turn of the task takes them all.
    group: u64,
    /// Requests taken and rows committed.
    turns: u64,
    rows: u64,
}

fn session_of(agent: &AgentId) -> SessionId {
    agent.as_str()["agent".len()..].parse().unwrap()
}

impl Turns {
    fn new(store: Option<Store>, group: u64) -> Self {
        let now = Instant::now();
        let anchor = WallAnchor {
            at: now,
            utc: "2026-03-02T09:00:00Z".parse().unwrap(),
        };
        let mut caf = QueueConfig::new("caf");
        caf.wrap_up = Duration::from_secs(60);
        caf.offer_timeout = Duration::from_secs(3_600);
        let dispatcher =
            Dispatcher::new(DispatchConfig::with_queues(vec![caf]), 7, anchor).unwrap();
        let config = CallConfig {
            refusals_per_minute: u32::MAX,
            ..CallConfig::default()
        };
        let mut turns = Self {
            cores: Cores::new(dispatcher, CallCore::new(config)),
            anchor,
            store,
            now,
            next_call: 1,
            offers: VecDeque::new(),
            answered: VecDeque::new(),
            kiosk_of: BTreeMap::new(),
            batch: Vec::new(),
            group,
            turns: 0,
            rows: 0,
        };
        for i in 1..=AGENTS {
            let agent = AgentId::from(format!("agent{i}"));
            let now = turns.tick();
            turns
                .cores
                .sign_in_agent(now, i, agent.clone(), Vec::new())
                .unwrap();
            turns.finish_turn();
            let now = turns.tick();
            turns
                .cores
                .dispatch(now, Event::AgentReady { agent })
                .unwrap();
            turns.finish_turn();
        }
        // Every agent busy, then calls waiting behind them.
        while turns.answered.len() < AGENTS as usize {
            turns.call();
            turns.accept();
        }
        for _ in 0..WAITING {
            turns.call();
        }
        turns
    }

    fn tick(&mut self) -> Instant {
        self.now += STEP;
        self.now
    }

    /// What the call task does after each request: the turn's rows in one transaction.
    fn finish_turn(&mut self) {
        self.turns += 1;
        while let Some(output) = self.cores.poll_effect() {
            let row = match output {
                Output::Journal(entry) => Some(stored::live(&self.anchor, &entry, 0)),
                Output::Record(ended) => {
                    self.kiosk_of.remove(&ended.call);
                    Some(stored::ended(&self.anchor, &ended))
                }
                Output::WrapUp {
                    call,
                    agent,
                    wrap_up,
                    disposition,
                } => Some(stored::wrap_up(call, agent, wrap_up, disposition)),
                Output::AgentState {
                    agent,
                    state,
                    since,
                } => {
                    if let AgentState::Reserved { call, .. } = &state {
                        self.offers.push_back((*call, agent.clone()));
                    }
                    Some(stored::agent_state(&self.anchor, &agent, &state, since))
                }
                _ => None,
            };
            if let (Some(row), Some(_)) = (row, &self.store) {
                self.batch.push(row);
            }
        }
        if let Some(store) = &self.store
            && !self.batch.is_empty()
            && self.turns.is_multiple_of(self.group)
        {
            store.commit_batch(&self.batch).unwrap();
            self.rows += self.batch.len() as u64;
            self.batch.clear();
        }
    }

    /// A kiosk opens its session and calls.
    fn call(&mut self) {
        let id = self.next_call;
        self.next_call += 1;
        let session = KIOSKS + id;
        let now = self.tick();
        self.cores
            .input(
                now,
                Input::SessionOpened {
                    session,
                    role: Role::Kiosk,
                    subject: format!("borne-{id}"),
                },
            )
            .unwrap();
        self.finish_turn();
        let now = self.tick();
        let call = self
            .cores
            .place(
                now,
                Input::Place {
                    call: CallId(id),
                    session,
                    kiosk: format!("borne-{id}"),
                    site: "mairie".to_owned(),
                    service: "caf".to_owned(),
                    since: None,
                },
            )
            .unwrap();
        self.kiosk_of.insert(call, session);
        self.finish_turn();
    }

    /// The agent offered the oldest call accepts it.
    fn accept(&mut self) {
        let Some((call, agent)) = self.offers.pop_front() else {
            return;
        };
        let now = self.tick();
        self.cores
            .dispatch(
                now,
                Event::Accept {
                    call,
                    agent: agent.clone(),
                },
            )
            .unwrap();
        self.answered.push_back((self.kiosk_of[&call], agent));
        self.finish_turn();
    }

    /// The kiosk of the oldest answered call hangs up and closes its session; its agent ends
    /// its wrap-up.
    fn hang_up(&mut self) {
        let Some((kiosk, agent)) = self.answered.pop_front() else {
            return;
        };
        let now = self.tick();
        self.cores
            .input(now, Input::Hangup { session: kiosk })
            .unwrap();
        self.finish_turn();
        let now = self.tick();
        self.cores
            .input(now, Input::SessionClosed { session: kiosk })
            .unwrap();
        self.finish_turn();
        let now = self.tick();
        self.cores
            .input(
                now,
                Input::WrapUpDone {
                    session: session_of(&agent),
                    disposition: Some("info".to_owned()),
                },
            )
            .unwrap();
        self.finish_turn();
    }

    fn cycle(&mut self) {
        self.call();
        self.hang_up();
        self.accept();
    }
}

fn store_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-turns-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bench(c: &mut Criterion, name: &str, store: Option<Store>, group: u64) {
    let mut turns = Turns::new(store, group);
    for _ in 0..2_000 {
        turns.cycle();
    }
    // Turns and rows of one batch of cycles, to declare the throughput and print the rows.
    const CYCLES: u64 = 100;
    let (turns_before, rows_before) = (turns.turns, turns.rows);
    for _ in 0..CYCLES {
        turns.cycle();
    }
    let per_batch = turns.turns - turns_before;
    println!(
        "{name}: {per_batch} requests per {CYCLES} calls, {} rows committed, {group} requests \
         per commit",
        turns.rows - rows_before
    );
    let mut group = c.benchmark_group("call_turns");
    group.throughput(Throughput::Elements(per_batch));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for _ in 0..CYCLES {
                    turns.cycle();
                }
            }
            started.elapsed()
        })
    });
    group.finish();
    let waiting = turns.cores.dispatcher().overall_kpis(turns.now).waiting;
    assert_eq!(waiting, WAITING, "the stream keeps its calls waiting");
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, "cores_alone", None, 1);
    let dir = store_dir();
    for (name, group) in [
        ("cores_and_journal_1_request_per_commit", 1),
        ("cores_and_journal_16_requests_per_commit", 16),
    ] {
        let path = dir.join(format!("{name}.sqlite3"));
        let store = Store::open(&path).unwrap();
        bench(&mut criterion, name, Some(store), group);
    }
    let _ = std::fs::remove_dir_all(&dir);
    criterion.final_summary();
}
