//! The stored form of what the cores decide: the store's rows of a call in progress, of an
//! ended call with its legs and chat, of an agent's state and of a wrap-up. Pure functions of
//! the cores' outputs, shared by the call task and the benchmarks of the journal.

use std::time::{Duration, Instant};

use relais_call::{Ended, Journalled};
use relais_dispatch::{AgentState, WallAnchor};
use relais_proto::{AgentId, CallId};
use relais_store::{
    AgentStateChange, CallRecord, ChatRecord, JournalOp, LegRecord, LiveCall, LiveState,
};

use super::unix_ms;

/// The journal's row of a call in progress, as it stands at `now_ms`.
pub fn live(anchor: &WallAnchor, entry: &Journalled, now_ms: i64) -> JournalOp {
    JournalOp::Live(Box::new(LiveCall {
        call_id: entry.call.0,
        queue: entry.queue.clone(),
        origin_queue: entry.service.clone(),
        kiosk: entry.kiosk.clone(),
        site: entry.site.clone(),
        priority: 0,
        enqueued_at_ms: unix_ms(anchor, entry.placed_at),
        state: if entry.agent.is_some() {
            LiveState::Connected
        } else {
            LiveState::Waiting
        },
        agent: entry.agent.as_ref().map(|(agent, _)| agent.clone()),
        answered_at_ms: entry.agent.as_ref().map(|(_, at)| unix_ms(anchor, *at)),
        ended_at_ms: None,
        attempts: 0,
        legs: leg_records(anchor, &entry.legs, None),
        updated_at_ms: now_ms,
    }))
}

/// The record of an ended call, its legs and its chat (the agent who answered wraps up next:
/// the journal keeps the call until then).
pub fn ended(anchor: &WallAnchor, ended: &Ended) -> JournalOp {
    let summary = &ended.summary;
    let record = CallRecord {
        call_id: ended.call.0,
        queue: summary.queue.to_string(),
        kiosk: summary.kiosk.to_string(),
        site: summary.site.to_string(),
        agent: summary.agent.as_ref().map(ToString::to_string),
        outcome: ended.outcome,
        enqueued_at_ms: unix_ms(anchor, summary.enqueued_at),
        offered_at_ms: summary.offered_at.map(|at| unix_ms(anchor, at)),
        answered_at_ms: summary.answered_at.map(|at| unix_ms(anchor, at)),
        ended_at_ms: unix_ms(anchor, summary.ended_at),
        wait_ms: summary.wait.as_millis() as i64,
        talk_ms: summary.talk.map(|d| d.as_millis() as i64),
        wrap_up_ms: summary.wrap_up.map(|d| d.as_millis() as i64),
        attempts: summary.attempts,
        callback: summary.callback,
        disposition: None,
        ended_by: ended.ended_by,
        end_reason: ended.reason,
    };
    let legs = leg_records(anchor, &ended.legs, Some(summary.ended_at));
    let chat: Vec<ChatRecord> = ended
        .chat
        .iter()
        .map(|line| ChatRecord {
            at_ms: line.at_ms,
            role: line.role.as_str().to_owned(),
            name: line.name.clone(),
            text: line.text.clone(),
        })
        .collect();
    let wrap_up_of = (ended.outcome == relais_proto::Outcome::Answered)
        .then(|| record.agent.clone())
        .flatten();
    JournalOp::Ended {
        record: Box::new(record),
        legs,
        chat,
        wrap_up_of,
    }
}

/// An agent's new state, dated `since`.
pub fn agent_state(
    anchor: &WallAnchor,
    agent: &AgentId,
    state: &AgentState,
    since: Instant,
) -> JournalOp {
    let reason = match state {
        AgentState::NotReady { reason } => Some(reason.clone()),
        _ => None,
    };
    JournalOp::AgentState(AgentStateChange {
        agent: agent.as_str().to_owned(),
        state: state.name().as_str().to_owned(),
        reason,
        at_ms: unix_ms(anchor, since),
    })
}

/// The wrap-up of `agent`'s last call.
pub fn wrap_up(
    call: CallId,
    agent: String,
    wrap_up: Duration,
    disposition: Option<String>,
) -> JournalOp {
    JournalOp::WrapUp {
        call_id: call.0,
        agent,
        wrap_up_ms: wrap_up.as_millis() as i64,
        disposition,
    }
}

/// The stored form of a call's legs. With `end`, a leg still there leaves then as `ended` (a
/// record); without, it keeps an empty reason and a zero leave time (the journal of a call in
/// progress).
fn leg_records(
    anchor: &WallAnchor,
    legs: &[relais_call::LegHistory],
    end: Option<std::time::Instant>,
) -> Vec<LegRecord> {
    legs.iter()
        .enumerate()
        .map(|(seq, leg)| {
            let left = leg
                .left
                .or_else(|| end.map(|at| (at, relais_call::LegLeft::Ended)));
            LegRecord {
                seq: seq as u32,
                role: leg.role.as_str().to_owned(),
                subject: leg.subject.clone(),
                queue: leg.queue.clone(),
                joined_at_ms: unix_ms(anchor, leg.joined_at),
                left_at_ms: left.map_or(0, |(at, _)| unix_ms(anchor, at)),
                left_because: left.map_or(String::new(), |(_, why)| why.as_str().to_owned()),
                wrap_up_ms: leg.wrap_up.as_ref().map(|(d, _)| d.as_millis() as i64),
                disposition: leg.wrap_up.as_ref().and_then(|(_, d)| d.clone()),
            }
        })
        .collect()
}

/// The store's change for a callback task: its row when it takes a call's place, its end.
pub fn callback(anchor: &WallAnchor, change: relais_call::CallbackChange) -> JournalOp {
    match change {
        relais_call::CallbackChange::Requested {
            task,
            service,
            kiosk,
            site,
            placed_at,
            callback,
        } => JournalOp::Callback(Box::new(relais_store::CallbackRow {
            task_id: task.0,
            call_id: callback.of.0,
            service,
            kiosk,
            site,
            enqueued_at_ms: unix_ms(anchor, placed_at),
            requested_at_ms: callback.requested_at_ms,
            not_before_ms: callback.not_before_ms,
            phone: callback.phone.as_str().to_owned(),
            done_at_ms: None,
            outcome: None,
            agent: None,
            result: None,
        })),
        relais_call::CallbackChange::Done {
            task,
            agent,
            result,
            outcome,
        } => JournalOp::CallbackDone(relais_store::CallbackDone {
            task_id: task.0,
            at_ms: jiff::Timestamp::now().as_millisecond(),
            outcome: outcome.as_str().to_owned(),
            agent,
            result: result.map(|r| r.as_str().to_owned()),
        }),
    }
}
