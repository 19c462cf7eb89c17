//! Dispatcher and queue configuration (public, plain data) and its validation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use relais_proto::{AgentId, QueueId};

use crate::error::DispatchError;

/// Whole-dispatcher configuration. [`DispatchConfig::default`] gives the documented defaults
/// and no queues.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// The service queues.
    pub queues: Vec<QueueConfig>,
    /// Consecutive offer timeouts that auto-pause an agent (NotReady "missed"); 0 disables.
    /// Default 2.
    pub max_missed_offers: u32,
    /// How long an agent that missed or rejected a call is not re-offered that same call
    /// (unless another agent has been offered it meanwhile). Default 10 s.
    pub reoffer_backoff: Duration,
    /// Abandons after less than this wait are "short" and counted apart. Default 5 s.
    pub short_abandon: Duration,
    /// A connected call whose agent disconnects is re-queued at the head of its queue (true) or
    /// ends `Interrupted` (false). Default true.
    pub requeue_interrupted: bool,
    /// Calls among the first `position_window` of their queue get position notices as soon as
    /// their position changes (rate-limited by `position_interval`). Default 100.
    pub position_window: usize,
    /// Minimum spacing of position notices for one call inside the window, and of position
    /// refreshes of one queue. Default 2 s.
    pub position_interval: Duration,
    /// Minimum spacing of position notices for calls beyond the window. Default 30 s.
    pub position_far_interval: Duration,
    /// Length of the "recent" KPI window. Default 15 minutes.
    pub recent_window: Duration,
    /// Time zone that defines "today" for the overall KPIs (queues use their own). Default UTC.
    pub time_zone: TimeZone,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            queues: Vec::new(),
            max_missed_offers: 2,
            reoffer_backoff: Duration::from_secs(10),
            short_abandon: Duration::from_secs(5),
            requeue_interrupted: true,
            position_window: 100,
            position_interval: Duration::from_secs(2),
            position_far_interval: Duration::from_secs(30),
            recent_window: Duration::from_secs(15 * 60),
            time_zone: TimeZone::UTC,
        }
    }
}

impl DispatchConfig {
    /// Default settings with these queues.
    pub fn with_queues(queues: Vec<QueueConfig>) -> Self {
        Self {
            queues,
            ..Self::default()
        }
    }
}

/// How a queue chooses among several available, eligible agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The agent available for the longest time.
    LongestIdle,
    /// The next agent after the one offered last, in agent order (first-login order), wrapping.
    RoundRobin,
    /// The agent that answered the fewest calls since login (ties: longest idle).
    FewestCalls,
    /// The agent with the least talk time since login (ties: longest idle).
    LeastTalkTime,
    /// Uniformly at random, from the dispatcher's seeded generator.
    Random,
    /// The first agent in the queue's `agent_order`; unlisted agents after, in first-login order.
    Linear,
    /// Tiered by proficiency: tier = 5 − the agent's lowest proficiency over the queue's
    /// required skills (tier 0 when the queue requires none). Tiers `0..=wait/step` are eligible,
    /// so the set widens every `step` of wait; longest idle among the eligible.
    RingProgressive {
        /// Wait time that opens the next tier.
        step: Duration,
    },
}

/// A required skill: the agent needs `skill` at `min_proficiency` or more, relaxing with the
/// call's wait: each `(after, min)` step lowers the requirement once the call waited `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillReq {
    /// Skill name.
    pub skill: String,
    /// Proficiency (1–5) required at first.
    pub min_proficiency: u8,
    /// Relaxation steps `(wait, min proficiency)`; the last step reached applies.
    pub relax: Vec<(Duration, u8)>,
}

impl SkillReq {
    /// A requirement without relaxation.
    pub fn new(skill: impl Into<String>, min_proficiency: u8) -> Self {
        Self {
            skill: skill.into(),
            min_proficiency,
            relax: Vec::new(),
        }
    }

    /// Adds a relaxation step: after `after` of wait, `min_proficiency` suffices.
    pub fn relax(mut self, after: Duration, min_proficiency: u8) -> Self {
        self.relax.push((after, min_proficiency));
        self
    }
}

/// What happens when a call waited `after` in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxWait {
    /// Time spent in this queue (since entering it) before overflow.
    pub after: Duration,
    /// The queue the call moves to; `None` ends the call `TimedOut`.
    pub overflow_to: Option<QueueId>,
}

/// A local time range `[start, end)`; `end == Time::MAX` means "until midnight".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalRange {
    /// First open instant (local time).
    pub start: Time,
    /// First closed instant (local time), or `Time::MAX` for end of day.
    pub end: Time,
}

impl LocalRange {
    pub(crate) fn contains(&self, t: Time) -> bool {
        t >= self.start && (t < self.end || self.end == Time::MAX)
    }
}

/// Opening hours: per-weekday local time ranges (Monday first) and closed holiday dates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours {
    /// Open ranges per weekday, index 0 = Monday … 6 = Sunday.
    pub weekly: [Vec<LocalRange>; 7],
    /// Dates on which the queue is closed all day.
    pub holidays: BTreeSet<Date>,
}

impl OpeningHours {
    /// Closed every day; add ranges with [`OpeningHours::on`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `[start, end)` on `day`.
    pub fn on(mut self, day: Weekday, start: Time, end: Time) -> Self {
        let index = usize::try_from(day.to_monday_zero_offset()).unwrap_or(0);
        if let Some(ranges) = self.weekly.get_mut(index) {
            ranges.push(LocalRange { start, end });
        }
        self
    }

    /// Closes the whole of `date`.
    pub fn holiday(mut self, date: Date) -> Self {
        self.holidays.insert(date);
        self
    }
}

/// One service queue.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Queue id (the service name kiosks ask for).
    pub id: QueueId,
    /// Required skills; empty = every logged-in agent serves the queue.
    pub skills: Vec<SkillReq>,
    /// Agent selection strategy. Default longest idle.
    pub strategy: Strategy,
    /// Added to each call's priority when an agent serving several queues chooses. Default 0.
    pub priority: i32,
    /// Time zone of the opening hours and of this queue's "today". Default UTC.
    pub time_zone: TimeZone,
    /// Opening hours; `None` = always open. Default `None`.
    pub hours: Option<OpeningHours>,
    /// Calls waiting (queued or on offer) beyond which new calls are `QueueFull`. Default none.
    pub max_waiting: Option<usize>,
    /// Maximum wait in this queue, then overflow or end. Default none.
    pub max_wait: Option<MaxWait>,
    /// How long an offer rings before it is withdrawn. Default 20 s.
    pub offer_timeout: Duration,
    /// Wrap-up after each call, ended early by `WrapUpDone`. Default 30 s.
    pub wrap_up: Duration,
    /// Service level threshold T. Default 20 s.
    pub service_level_threshold: Duration,
    /// Effective priority grows by 1 per `ageing_step` of wait; `None` disables. Default 60 s.
    pub ageing_step: Option<Duration>,
    /// Agent order for the `Linear` strategy.
    pub agent_order: Vec<AgentId>,
    /// Handle time assumed by the wait estimate before any call was handled. Default 5 min.
    pub assumed_handle_time: Duration,
}

impl QueueConfig {
    /// A queue with the documented defaults.
    pub fn new(id: impl Into<QueueId>) -> Self {
        Self {
            id: id.into(),
            skills: Vec::new(),
            strategy: Strategy::LongestIdle,
            priority: 0,
            time_zone: TimeZone::UTC,
            hours: None,
            max_waiting: None,
            max_wait: None,
            offer_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_secs(30),
            service_level_threshold: Duration::from_secs(20),
            ageing_step: Some(Duration::from_secs(60)),
            agent_order: Vec::new(),
            assumed_handle_time: Duration::from_secs(300),
        }
    }
}

fn invalid(message: String) -> DispatchError {
    DispatchError::InvalidConfig(message)
}

fn check_proficiency(queue: &QueueId, skill: &str, value: u8) -> Result<(), DispatchError> {
    if (1..=5).contains(&value) {
        Ok(())
    } else {
        Err(invalid(format!(
            "queue {queue}: proficiency {value} for skill {skill} is outside 1..=5"
        )))
    }
}

/// Checks everything the dispatcher relies on; refuses the whole configuration otherwise.
pub(crate) fn validate(config: &DispatchConfig) -> Result<(), DispatchError> {
    if config.position_window == 0 {
        return Err(invalid("position_window must be at least 1".into()));
    }
    if config.position_interval.is_zero() || config.position_far_interval.is_zero() {
        return Err(invalid("position intervals must be positive".into()));
    }
    if config.recent_window < Duration::from_secs(30) {
        return Err(invalid("recent_window must be at least 30 s".into()));
    }
    let mut ids = BTreeMap::new();
    for (index, queue) in config.queues.iter().enumerate() {
        if ids.insert(queue.id.clone(), index).is_some() {
            return Err(invalid(format!("queue {} is defined twice", queue.id)));
        }
    }
    for queue in &config.queues {
        let id = &queue.id;
        for req in &queue.skills {
            check_proficiency(id, &req.skill, req.min_proficiency)?;
            for (_, value) in &req.relax {
                check_proficiency(id, &req.skill, *value)?;
            }
        }
        if queue.offer_timeout.is_zero() {
            return Err(invalid(format!(
                "queue {id}: offer_timeout must be positive"
            )));
        }
        if queue.ageing_step.is_some_and(|step| step.is_zero()) {
            return Err(invalid(format!("queue {id}: ageing_step must be positive")));
        }
        if let Strategy::RingProgressive { step } = queue.strategy
            && step.is_zero()
        {
            return Err(invalid(format!(
                "queue {id}: ring-progressive step must be positive"
            )));
        }
        if let Some(max_wait) = &queue.max_wait {
            if max_wait.after.is_zero() {
                return Err(invalid(format!(
                    "queue {id}: max_wait.after must be positive"
                )));
            }
            if let Some(target) = &max_wait.overflow_to {
                if target == id {
                    return Err(invalid(format!("queue {id}: overflows to itself")));
                }
                if !ids.contains_key(target) {
                    return Err(invalid(format!(
                        "queue {id}: overflow target {target} is unknown"
                    )));
                }
            }
        }
        if let Some(hours) = &queue.hours {
            for range in hours.weekly.iter().flatten() {
                if range.start >= range.end {
                    return Err(invalid(format!(
                        "queue {id}: opening range {}–{} is empty",
                        range.start, range.end
                    )));
                }
            }
        }
    }
    Ok(())
}
