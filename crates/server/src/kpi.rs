//! KPIs for supervisors and Prometheus: builds snapshots from the dispatcher's views and
//! publishes them to subscribed supervisors at most four times a second, only when something
//! changed; refreshes the queue and agent gauges every second.

use std::sync::atomic::Ordering;
use std::time::Duration;

use relais_dispatch::{AgentState, KpiWindow};
use relais_proto::ServerMessage;
use relais_proto::messages::{AgentCounts, AgentRow, KpiSnapshot, QueueKpis, WindowKpis};

use crate::state::AppState;

/// Shortest time between two snapshots pushed to supervisors.
const PUSH_EVERY: Duration = Duration::from_millis(250);
/// Gauges are refreshed at least this often.
const GAUGES_EVERY: Duration = Duration::from_secs(1);

fn window(window: &KpiWindow) -> WindowKpis {
    let c = &window.counters;
    WindowKpis {
        offered: c.offered,
        answered: c.answered,
        abandoned: c.abandoned,
        short_abandoned: c.short_abandoned,
        overflowed: c.overflowed,
        callback_requested: c.callback_requested,
        callbacks_answered: c.callbacks_answered,
        service_level: window.service_level,
        service_level_with_abandons: window.service_level_with_abandons,
        asa_secs: window.asa.map(|d| d.as_secs_f64()),
        aht_secs: window.aht.map(|d| d.as_secs_f64()),
        abandonment_rate: window.abandonment_rate,
        occupancy: window.occupancy,
    }
}

/// A snapshot of every configured queue and every logged-in agent.
pub async fn snapshot(state: &AppState) -> Option<KpiSnapshot> {
    let services: Vec<(String, String)> = state
        .services()
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    state
        .calls()
        .query(move |dispatcher, now| {
            let queues = services
                .into_iter()
                .filter_map(|(id, name)| {
                    let queue = id.as_str().into();
                    let kpis = dispatcher.queue_kpis(&queue, now)?;
                    let open = dispatcher.is_open(&queue, now).unwrap_or(false);
                    Some(QueueKpis {
                        open,
                        service: id,
                        name,
                        waiting: kpis.waiting,
                        longest_wait_secs: kpis.longest_wait.map(|d| d.as_secs()).unwrap_or(0),
                        // A closed queue takes no caller: no wait to estimate.
                        estimated_wait_secs: kpis
                            .estimated_wait
                            .filter(|_| open)
                            .map(|d| d.as_secs()),
                        agents: AgentCounts {
                            logged_in: kpis.agents.logged_in,
                            available: kpis.agents.available,
                            reserved: kpis.agents.reserved,
                            on_call: kpis.agents.on_call,
                            wrap_up: kpis.agents.wrap_up,
                            not_ready: kpis.agents.not_ready,
                        },
                        recent: window(&kpis.recent),
                        today: window(&kpis.today),
                    })
                })
                .collect();
            let mut agents: Vec<AgentRow> = dispatcher
                .agents()
                .filter(|view| !matches!(view.state, AgentState::LoggedOut))
                .map(|view| {
                    let (reason, call) = match &view.state {
                        AgentState::NotReady { reason } => (Some(reason.clone()), None),
                        AgentState::Reserved { call, .. } | AgentState::OnCall { call } => {
                            (None, Some(*call))
                        }
                        _ => (None, None),
                    };
                    AgentRow {
                        agent: view.agent.to_string(),
                        state: view.state.name(),
                        reason,
                        since_secs: now.saturating_duration_since(view.since).as_secs(),
                        call,
                        calls: view.calls_answered,
                        talk_secs: view.talk.as_secs(),
                    }
                })
                .collect();
            agents.sort_by(|a, b| a.agent.cmp(&b.agent));
            KpiSnapshot { queues, agents }
        })
        .await
}

/// The publisher loop: pushes snapshots to subscribed supervisors and refreshes the gauges.
pub async fn publish(state: AppState) {
    let mut ticker = tokio::time::interval(PUSH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut since_gauges = Duration::ZERO;
    loop {
        ticker.tick().await;
        since_gauges += PUSH_EVERY;
        let dirty = state.calls().kpis_dirty.swap(false, Ordering::AcqRel);
        let subscribers = state.hub().kpi_subscribers();
        let push = dirty && !subscribers.is_empty();
        if !push && since_gauges < GAUGES_EVERY {
            continue;
        }
        let Some(snapshot) = snapshot(&state).await else {
            break;
        };
        if since_gauges >= GAUGES_EVERY || dirty {
            since_gauges = Duration::ZERO;
            refresh_gauges(&state, &snapshot);
        }
        if push {
            for session in subscribers {
                state
                    .hub()
                    .send(session, ServerMessage::Kpis(snapshot.clone()));
            }
        }
    }
}

fn refresh_gauges(state: &AppState, snapshot: &KpiSnapshot) {
    let metrics = state.metrics();
    for queue in &snapshot.queues {
        let id = queue.service.as_str();
        let q = &metrics.queues;
        q.open.with_label_values(&[id]).set(i64::from(queue.open));
        let a = &queue.agents;
        for (name, count) in [
            ("available", a.available),
            ("reserved", a.reserved),
            ("on_call", a.on_call),
            ("wrap_up", a.wrap_up),
            ("not_ready", a.not_ready),
        ] {
            q.agents.with_label_values(&[id, name]).set(count as i64);
        }
        for (window, kpis) in [("recent", &queue.recent), ("today", &queue.today)] {
            q.offered
                .with_label_values(&[id, window])
                .set(kpis.offered as i64);
            match kpis.service_level {
                Some(level) => q.service_level.with_label_values(&[id, window]).set(level),
                // No answered call in the window: no figure rather than a made-up one.
                None => {
                    let _ = q.service_level.remove_label_values(&[id, window]);
                }
            }
        }
        if let Some(service) = state.services().iter().find(|s| s.id == queue.service) {
            q.service_level_target
                .with_label_values(&[id])
                .set(service.service_level_target);
        }
        metrics
            .queue_waiting
            .with_label_values(&[queue.service.as_str()])
            .set(queue.waiting as i64);
        metrics
            .queue_longest_wait
            .with_label_values(&[queue.service.as_str()])
            .set(queue.longest_wait_secs as i64);
    }
    for state in relais_proto::AgentStateName::ALL
        .iter()
        .filter(|state| **state != relais_proto::AgentStateName::LoggedOut)
    {
        let count = snapshot
            .agents
            .iter()
            .filter(|agent| agent.state == *state)
            .count();
        metrics
            .agents
            .with_label_values(&[state.as_str()])
            .set(count as i64);
    }
}
