//! Test harness: a dispatcher driven in virtual time, with its commands collected.
#![allow(clippy::disallowed_methods)] // virtual time starts at a real instant
#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use relais_dispatch::*;

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// A queue with no wrap-up and no ageing unless the test sets them.
pub fn queue(id: &str) -> QueueConfig {
    let mut q = QueueConfig::new(id);
    q.wrap_up = Duration::ZERO;
    q
}

pub struct Harness {
    pub d: Dispatcher,
    pub start: Instant,
    pub now: Instant,
    pub log: Vec<Command>,
}

impl Harness {
    pub fn new(queues: Vec<QueueConfig>) -> Self {
        Self::with_config(DispatchConfig::with_queues(queues), 1)
    }

    pub fn with_config(config: DispatchConfig, seed: u64) -> Self {
        // 2024-03-04 is a Monday; 10:00 UTC.
        let utc: jiff::Timestamp = "2024-03-04T10:00:00Z".parse().unwrap();
        Self::at(config, seed, utc)
    }

    pub fn at(config: DispatchConfig, seed: u64, utc: jiff::Timestamp) -> Self {
        let start = Instant::now();
        let d = Dispatcher::new(config, seed, WallAnchor { at: start, utc }).unwrap();
        Self {
            d,
            start,
            now: start,
            log: Vec::new(),
        }
    }

    /// Handles an event now; collects commands; returns the commands of this step.
    pub fn try_ev(&mut self, event: Event) -> Result<Vec<Command>, DispatchError> {
        let result = self.d.handle(self.now, event);
        let mut out = Vec::new();
        while let Some(c) = self.d.poll_command() {
            out.push(c);
        }
        self.log.extend(out.iter().cloned());
        result.map(|()| out)
    }

    pub fn ev(&mut self, event: Event) -> Vec<Command> {
        self.try_ev(event).unwrap()
    }

    /// Moves time forward, firing deadlines on the way (as a server would).
    pub fn advance(&mut self, by: Duration) -> Vec<Command> {
        let target = self.now + by;
        let mut out = Vec::new();
        while let Some((at, _)) = self.d.poll_timeout() {
            if at > target {
                break;
            }
            self.now = at.max(self.now);
            out.extend(self.ev(Event::Timeout));
        }
        self.now = target;
        out.extend(self.ev(Event::Timeout));
        out
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn login(&mut self, agent: &str, skills: &[(&str, u8)]) -> Vec<Command> {
        self.ev(Event::AgentLogin {
            agent: agent.into(),
            skills: skills.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
            queues: None,
        })
    }

    pub fn ready(&mut self, agent: &str) -> Vec<Command> {
        self.ev(Event::AgentReady {
            agent: agent.into(),
        })
    }

    pub fn login_ready(&mut self, agent: &str, skills: &[(&str, u8)]) -> Vec<Command> {
        let mut out = self.login(agent, skills);
        out.extend(self.ready(agent));
        out
    }

    pub fn enqueue(&mut self, call: u64, queue: &str) -> Vec<Command> {
        self.enqueue_prio(call, queue, None)
    }

    pub fn enqueue_prio(&mut self, call: u64, queue: &str, priority: Option<i32>) -> Vec<Command> {
        self.ev(Event::Enqueue {
            call: CallId(call),
            queue: queue.into(),
            kiosk: format!("kiosk-{call}").as_str().into(),
            site: "site".into(),
            priority,
        })
    }

    pub fn accept(&mut self, call: u64, agent: &str) -> Vec<Command> {
        self.ev(Event::Accept {
            call: CallId(call),
            agent: agent.into(),
        })
    }

    pub fn try_accept(&mut self, call: u64, agent: &str) -> Result<Vec<Command>, DispatchError> {
        self.try_ev(Event::Accept {
            call: CallId(call),
            agent: agent.into(),
        })
    }

    pub fn reject(&mut self, call: u64, agent: &str) -> Vec<Command> {
        self.ev(Event::Reject {
            call: CallId(call),
            agent: agent.into(),
        })
    }

    pub fn hangup(&mut self, call: u64) -> Vec<Command> {
        self.ev(Event::CallEnded {
            call: CallId(call),
            by: EndedBy::Kiosk,
        })
    }

    pub fn abandon(&mut self, call: u64) -> Vec<Command> {
        self.ev(Event::Abandon { call: CallId(call) })
    }

    pub fn state(&self, agent: &str) -> AgentState {
        self.d.agent_state(&agent.into()).unwrap().0
    }

    pub fn queue_kpis(&self, queue: &str) -> Kpis {
        self.d.queue_kpis(&queue.into(), self.now).unwrap()
    }
}

/// Offers in these commands as (call, agent).
pub fn offers(cmds: &[Command]) -> Vec<(u64, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Offer { call, agent, .. } => Some((call.0, agent.as_str().to_owned())),
            _ => None,
        })
        .collect()
}

/// Ended calls in these commands as (call, outcome).
pub fn ended(cmds: &[Command]) -> Vec<(u64, Outcome)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::CallEnded { call, outcome, .. } => Some((call.0, outcome.clone())),
            _ => None,
        })
        .collect()
}

pub fn record_of(cmds: &[Command], id: u64) -> CallSummary {
    cmds.iter()
        .find_map(|c| match c {
            Command::CallEnded { call, record, .. } if call.0 == id => Some((**record).clone()),
            _ => None,
        })
        .expect("call ended")
}

/// Position notices as (call, position).
pub fn positions(cmds: &[Command]) -> Vec<(u64, usize)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::QueuePosition { call, position, .. } => Some((call.0, *position)),
            _ => None,
        })
        .collect()
}

pub fn reserved(call: u64) -> impl Fn(&AgentState) -> bool {
    move |s| matches!(s, AgentState::Reserved { call: c, .. } if c.0 == call)
}
