//! Dispatcher benchmark: 10,000 agents across 50 queues with mixed skills, 100,000 waiting
//! calls, and a stream of login/ready/enqueue/accept/end events. Criterion measures the
//! throughput (events/s on one core); a custom loop times individual routing decisions with
//! `Instant` and prints p50/p99.
#![allow(clippy::disallowed_methods)] // virtual time starts at a real instant

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use relais_dispatch::*;

const AGENTS: usize = 10_000;
const QUEUES: usize = 50;
const SKILLS: usize = 50;
const WAITING: usize = 100_000;
const STEP: Duration = Duration::from_micros(50);

/// xorshift64*: the bench's own deterministic randomness.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn config() -> DispatchConfig {
    let queues = (0..QUEUES)
        .map(|i| {
            let mut q = QueueConfig::new(format!("q{i:02}").as_str());
            q.skills = vec![
                SkillReq::new(format!("s{:02}", i % SKILLS), 3).relax(Duration::from_secs(60), 1),
            ];
            q.strategy = match i % 5 {
                0 => Strategy::RoundRobin,
                1 => Strategy::FewestCalls,
                2 => Strategy::Random,
                _ => Strategy::LongestIdle,
            };
            q.priority = (i % 3) as i32;
            q.wrap_up = Duration::ZERO;
            q
        })
        .collect();
    DispatchConfig::with_queues(queues)
}

fn agent_skills(rand: &mut Rand) -> Vec<(String, u8)> {
    (0..5)
        .map(|_| {
            (
                format!("s{:02}", rand.below(SKILLS)),
                1 + rand.below(5) as u8,
            )
        })
        .collect()
}

struct Sim {
    d: Dispatcher,
    now: Instant,
    rand: Rand,
    next_call: u64,
    offers: VecDeque<(CallId, AgentId)>,
    connected: VecDeque<CallId>,
    agents: Vec<AgentId>,
    /// Ids built once, as the server holds them (cloning one is a reference count).
    queues: Vec<QueueId>,
    kiosk: KioskId,
    site: SiteId,
    /// Time each event (the decision latencies).
    timed: bool,
    events: u64,
}

impl Sim {
    fn new(waiting: usize, agents: usize) -> Self {
        let now = Instant::now();
        let anchor = WallAnchor {
            at: now,
            utc: "2024-03-04T10:00:00Z".parse().expect("timestamp"),
        };
        let d = Dispatcher::new(config(), 42, anchor).expect("valid config");
        let mut sim = Self {
            d,
            now,
            rand: Rand(0x9E37_79B9_7F4A_7C15),
            next_call: 1,
            offers: VecDeque::new(),
            connected: VecDeque::new(),
            agents: (0..agents)
                .map(|i| AgentId::from(format!("agent{i:05}")))
                .collect(),
            queues: (0..QUEUES)
                .map(|i| QueueId::from(format!("q{i:02}")))
                .collect(),
            kiosk: KioskId::from("kiosk"),
            site: SiteId::from("site"),
            timed: true,
            events: 0,
        };
        for i in 0..agents {
            let skills = agent_skills(&mut sim.rand);
            let agent = sim.agents[i].clone();
            sim.handle(Event::AgentLogin {
                agent: agent.clone(),
                skills,
                queues: None,
            });
            sim.handle(Event::AgentReady { agent });
        }
        for _ in 0..waiting {
            sim.enqueue();
        }
        sim
    }

    fn handle(&mut self, event: Event) -> Duration {
        self.now += STEP;
        // The throughput loop does not read the clock per event (its own cost).
        let started = self.timed.then(Instant::now);
        let _ = black_box(self.d.handle(self.now, event));
        while let Some(command) = self.d.poll_command() {
            match command {
                Command::Offer { call, agent, .. } => self.offers.push_back((call, agent)),
                Command::CallAnswered { call, .. } => self.connected.push_back(call),
                other => {
                    black_box(other);
                }
            }
        }
        let spent = started.map_or(Duration::ZERO, |t| t.elapsed());
        self.events += 1;
        spent
    }

    fn enqueue(&mut self) -> Duration {
        let call = CallId(self.next_call);
        self.next_call += 1;
        let queue = self.queues[self.rand.below(QUEUES)].clone();
        self.handle(Event::Enqueue {
            call,
            queue,
            kiosk: self.kiosk.clone(),
            site: self.site.clone(),
            priority: Some((call.0 % 2) as i32),
        })
    }

    fn fire_timers(&mut self) {
        while let Some((at, _)) = self.d.poll_timeout() {
            if at > self.now {
                break;
            }
            self.handle(Event::Timeout);
        }
    }

    /// One cycle of the stream: accept the oldest offer, end the oldest call (the agent takes
    /// the next waiting call: a routing decision), enqueue a call; sometimes a pause/ready.
    /// Returns the time of the call end (with its routing decision), if one happened.
    fn cycle(&mut self) -> Option<Duration> {
        self.fire_timers();
        if let Some((call, agent)) = self.offers.pop_front() {
            self.handle(Event::Accept { call, agent });
        }
        let mut decision = None;
        if let Some(call) = self.connected.pop_front() {
            decision = Some(self.handle(Event::CallEnded {
                call,
                by: EndedBy::Agent,
            }));
        }
        self.enqueue();
        if self.next_call.is_multiple_of(64) {
            let agent = self.agents[self.rand.below(self.agents.len())].clone();
            if self
                .d
                .agent_state(&agent)
                .is_some_and(|(s, _)| s == AgentState::Available)
            {
                self.handle(Event::AgentNotReady {
                    agent: agent.clone(),
                    reason: "break".into(),
                });
                self.handle(Event::AgentReady { agent });
            }
        }
        decision
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{label}: n = {}, p50 = {:?}, p99 = {:?}, p99.9 = {:?}, max = {:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        samples.last().copied().unwrap_or_default(),
    );
}

/// Times individual routing decisions in both directions.
fn decision_latency() {
    // Agent frees up while 100,000 calls wait: it takes the best call of its queues.
    let mut sim = Sim::new(WAITING, AGENTS);
    for _ in 0..20_000 {
        sim.cycle(); // warm-up
    }
    let mut samples = Vec::with_capacity(200_000);
    let started = Instant::now();
    let events_before = sim.events;
    for _ in 0..200_000 {
        if let Some(t) = sim.cycle() {
            samples.push(t);
        }
    }
    let elapsed = started.elapsed();
    let events = sim.events - events_before;
    println!(
        "stream (custom loop): {events} events in {elapsed:?} = {:.0} events/s; waiting calls {}",
        events as f64 / elapsed.as_secs_f64(),
        sim.d.overall_kpis(sim.now).waiting
    );
    report(
        "routing decision, agent frees up (handle CallEnded + offer, 100k waiting)",
        samples,
    );

    // A call arrives while thousands of agents are available: the strategy picks one.
    let mut sim = Sim::new(0, AGENTS);
    let mut samples = Vec::with_capacity(200_000);
    for round in 0..220_000 {
        let t = sim.enqueue();
        if round >= 20_000 {
            samples.push(t);
        }
        if let Some((call, agent)) = sim.offers.pop_front() {
            sim.handle(Event::Accept { call, agent });
        }
        if let Some(call) = sim.connected.pop_front() {
            sim.handle(Event::CallEnded {
                call,
                by: EndedBy::Kiosk,
            });
        }
    }
    report(
        "routing decision, call arrives (handle Enqueue + offer, ~10k available)",
        samples,
    );
    let overhead = {
        let mut v: Vec<Duration> = (0..10_000)
            .map(|_| {
                let s = Instant::now();
                s.elapsed()
            })
            .collect();
        v.sort_unstable();
        percentile(&v, 0.5)
    };
    println!("(Instant::now + elapsed overhead per sample: ~{overhead:?})");
}

/// Events per second of the stream with `waiting` calls kept waiting and `agents` agents.
fn throughput(c: &mut Criterion, name: &str, waiting: usize, agents: usize) {
    let mut sim = Sim::new(waiting, agents);
    sim.timed = false;
    for _ in 0..20_000 {
        sim.cycle();
    }
    let mut group = c.benchmark_group("dispatch");
    const CYCLES: u64 = 1_000;
    // Measure the event count of a batch once to declare the throughput.
    let before = sim.events;
    for _ in 0..CYCLES {
        sim.cycle();
    }
    let per_batch = sim.events - before;
    group.throughput(Throughput::Elements(per_batch));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                for _ in 0..CYCLES {
                    sim.cycle();
                }
            }
            started.elapsed()
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    decision_latency();
    throughput(
        &mut criterion,
        "stream_100k_waiting_10k_agents",
        WAITING,
        AGENTS,
    );
    // A large centre on an ordinary day: the working set fits in the caches.
    throughput(&mut criterion, "stream_1k_waiting_500_agents", 1_000, 500);
    criterion.final_summary();
}
