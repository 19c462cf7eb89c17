//! `GET /api/report`: the daily summary of each service from the stored records — offered,
//! answered, abandoned (and short abandons), refused, interrupted, service level, ASA, AHT,
//! abandonment rate — and each day's occupancy from the agents' state changes, as JSON or CSV.
//! Days are local days of each service's time zone; the definitions are those of the live KPIs
//! (docs/dispatcher.md). Records are read page by page: a year of records never sits in
//! memory at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use relais_proto::{Outcome, Role};
use relais_store::{AgentStateChange, CallRecord, Store};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::api::{authorize, period_of};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// One service's day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceDay {
    pub date: String,
    pub service: String,
    pub offered: u64,
    pub answered: u64,
    pub answered_within_threshold: u64,
    pub abandoned: u64,
    pub abandoned_within_threshold: u64,
    pub short_abandoned: u64,
    /// Refused at the call: closed or full.
    pub refused: u64,
    /// Lost their agent or cut by a restart, and not re-queued.
    pub interrupted: u64,
    /// Max wait reached (timed out, or the overflow target could not take them).
    pub timed_out: u64,
    /// Callback tasks that ended that day (phoned back, or not).
    pub callbacks: u64,
    /// Calls whose caller asked, while waiting, to be called back (not abandons).
    pub callback_requested: u64,
    pub service_level: Option<f64>,
    pub service_level_with_abandons: Option<f64>,
    pub asa_secs: Option<f64>,
    pub aht_secs: Option<f64>,
    pub abandonment_rate: Option<f64>,
    /// That day's occupancy over all agents (busy ÷ staffed).
    pub occupancy: Option<f64>,
    #[serde(skip)]
    wait_ms: i64,
    #[serde(skip)]
    handled: u64,
    #[serde(skip)]
    handle_ms: i64,
}

fn ratio(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole)
}

impl ServiceDay {
    fn count(&mut self, record: &CallRecord, threshold_ms: i64) {
        let within = record.wait_ms <= threshold_ms;
        // A callback task is the agents' work for a call counted already (`callback_requested`).
        if record.callback {
            self.callbacks += 1;
            return;
        }
        match record.outcome {
            Outcome::Closed | Outcome::QueueFull => {
                self.refused += 1;
                return;
            }
            Outcome::Answered => {
                self.answered += 1;
                self.answered_within_threshold += u64::from(within);
                self.wait_ms += record.wait_ms;
                if let Some(wrap_up) = record.wrap_up_ms {
                    self.handled += 1;
                    self.handle_ms += record.talk_ms.unwrap_or(0) + wrap_up;
                }
            }
            Outcome::Abandoned => {
                self.abandoned += 1;
                self.abandoned_within_threshold += u64::from(within);
            }
            Outcome::AbandonedShort => self.short_abandoned += 1,
            Outcome::Interrupted => self.interrupted += 1,
            Outcome::TimedOut | Outcome::Overflowed => self.timed_out += 1,
            Outcome::CallbackRequested => self.callback_requested += 1,
        }
        self.offered += 1;
    }

    fn derive(&mut self) {
        let (answered, abandoned) = (self.answered as f64, self.abandoned as f64);
        self.service_level = ratio(self.answered_within_threshold as f64, answered);
        self.service_level_with_abandons = ratio(
            (self.answered_within_threshold + self.abandoned_within_threshold) as f64,
            answered + abandoned,
        );
        self.asa_secs = ratio(self.wait_ms as f64 / 1000.0, answered);
        self.aht_secs = ratio(self.handle_ms as f64 / 1000.0, self.handled as f64);
        self.abandonment_rate = ratio(
            abandoned,
            self.offered
                .saturating_sub(self.short_abandoned)
                .saturating_sub(self.callback_requested) as f64,
        );
    }
}

/// A day's agent time: busy (on call, wrap-up) and staffed (logged in and not paused).
#[derive(Debug, Clone, Copy, Default)]
struct AgentTime {
    busy_ms: i64,
    staffed_ms: i64,
}

/// Each local day's agent time from the state changes of `[from, to)` (each state lasts until
/// the agent's next change or `to`; a change before `from` counts from `from`), split at
/// midnight in `zone`.
fn agent_time(
    changes: &[AgentStateChange],
    from: i64,
    to: i64,
    zone: &jiff::tz::TimeZone,
) -> BTreeMap<String, AgentTime> {
    let mut by_agent: BTreeMap<&str, Vec<&AgentStateChange>> = BTreeMap::new();
    for change in changes {
        by_agent.entry(&change.agent).or_default().push(change);
    }
    let mut days: BTreeMap<String, AgentTime> = BTreeMap::new();
    for list in by_agent.values() {
        for (i, change) in list.iter().enumerate() {
            let busy = matches!(change.state.as_str(), "on_call" | "wrap_up");
            let staffed = busy || matches!(change.state.as_str(), "available" | "reserved");
            if !staffed {
                continue;
            }
            let end = list.get(i + 1).map_or(to, |next| next.at_ms).min(to);
            let mut start = change.at_ms.max(from);
            while start < end {
                let (date, next_midnight) = local_day(start, zone);
                let until = end.min(next_midnight);
                let entry = days.entry(date).or_default();
                entry.staffed_ms += until - start;
                if busy {
                    entry.busy_ms += until - start;
                }
                start = until;
            }
        }
    }
    days
}

/// The local date of `at_ms` in `zone`, and the next local midnight (Unix ms).
fn local_day(at_ms: i64, zone: &jiff::tz::TimeZone) -> (String, i64) {
    let Ok(at) = jiff::Timestamp::from_millisecond(at_ms) else {
        return ("?".to_owned(), i64::MAX);
    };
    let local = at.to_zoned(zone.clone());
    let date = local.date();
    let next = date
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(zone.clone()).ok())
        .map_or(i64::MAX, |z| z.timestamp().as_millisecond());
    (date.to_string(), next.max(at_ms + 1))
}

/// The report of `[from, to)`: one row per service and local day with calls.
pub fn build(
    store: &Store,
    from: i64,
    to: i64,
    services: &BTreeMap<String, (i64, jiff::tz::TimeZone)>,
    zone: &jiff::tz::TimeZone,
) -> relais_store::Result<Vec<ServiceDay>> {
    let mut rows: BTreeMap<(String, String), ServiceDay> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store.calls_page(from, to, after, super::api::MAX_PAGE)?;
        for record in &page {
            let (threshold, service_zone) = services
                .get(&record.queue)
                .cloned()
                .unwrap_or((20_000, zone.clone()));
            let (date, _) = local_day(record.ended_at_ms, &service_zone);
            rows.entry((date.clone(), record.queue.clone()))
                .or_insert_with(|| ServiceDay {
                    date,
                    service: record.queue.clone(),
                    ..ServiceDay::default()
                })
                .count(record, threshold);
        }
        match page.last() {
            Some(last) if page.len() == super::api::MAX_PAGE => {
                after = Some((last.ended_at_ms, last.call_id));
            }
            _ => break,
        }
    }
    // The state each agent was in at `from`, then what changed.
    let mut changes = store.agent_states_before(from)?;
    changes.extend(store.agent_states_between(from, to)?);
    let time = agent_time(&changes, from, to, zone);
    Ok(rows
        .into_values()
        .map(|mut row| {
            row.derive();
            row.occupancy = time
                .get(&row.date)
                .and_then(|t| ratio(t.busy_ms as f64, t.staffed_ms as f64));
            row
        })
        .collect())
}

fn csv(rows: &[ServiceDay]) -> String {
    let mut out = String::from(
        "date,service,offered,answered,answered_within_threshold,abandoned,\
         abandoned_within_threshold,short_abandoned,refused,interrupted,timed_out,callbacks,\
         callback_requested,service_level,service_level_with_abandons,asa_secs,aht_secs,abandonment_rate,occupancy\n",
    );
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let service = if r.service.contains([',', '"', '\n']) {
            format!("\"{}\"", r.service.replace('"', "\"\""))
        } else {
            r.service.clone()
        };
        out.push_str(&format!(
            "{},{service},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.date,
            r.offered,
            r.answered,
            r.answered_within_threshold,
            r.abandoned,
            r.abandoned_within_threshold,
            r.short_abandoned,
            r.refused,
            r.interrupted,
            r.timed_out,
            r.callbacks,
            r.callback_requested,
            num(r.service_level),
            num(r.service_level_with_abandons),
            num(r.asa_secs),
            num(r.aht_secs),
            num(r.abandonment_rate),
            num(r.occupancy),
        ));
    }
    out
}

/// `GET /api/report?from=&to=&format=json|csv` (supervisors and admins): one row per service
/// and local day; `from` defaults to 7 days before `to`.
pub(super) async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Supervisor, Role::Admin])?;
    let to_default = jiff::Timestamp::now().as_millisecond() + 1;
    let from_default = query
        .to
        .is_none()
        .then(|| (to_default - 7 * 24 * 3600 * 1000).to_string());
    let (from, to) = period_of(
        query.from.as_deref().or(from_default.as_deref()),
        query.to.as_deref(),
    )?;
    let csv_wanted = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format `{other}` (json or csv)"
            )));
        }
    };
    let services: BTreeMap<String, (i64, jiff::tz::TimeZone)> = state
        .services()
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                (
                    i64::try_from(s.service_level_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                    s.timezone.zone(),
                ),
            )
        })
        .collect();
    let zone = state
        .services()
        .first()
        .map_or(jiff::tz::TimeZone::UTC, |s| s.timezone.zone());
    let store = Arc::clone(state.store());
    let rows = tokio::task::spawn_blocking(move || build(&store, from, to, &services, &zone))
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(if csv_wanted {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"report.csv\"",
                ),
            ],
            csv(&rows),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({ "from": from, "to": to, "days": rows })).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use relais_store::AgentStateChange;

    fn record(call_id: u64, outcome: Outcome, ended_at_ms: i64, wait_ms: i64) -> CallRecord {
        let answered = outcome == Outcome::Answered;
        CallRecord {
            call_id,
            queue: "caf".to_owned(),
            kiosk: "borne".to_owned(),
            site: "mairie".to_owned(),
            agent: answered.then(|| "alice".to_owned()),
            outcome,
            ended_by: None,
            end_reason: None,
            enqueued_at_ms: ended_at_ms - 100_000,
            offered_at_ms: None,
            answered_at_ms: answered.then_some(ended_at_ms - 60_000),
            ended_at_ms,
            wait_ms,
            talk_ms: answered.then_some(60_000),
            wrap_up_ms: answered.then_some(30_000),
            attempts: 1,
            callback: false,
            disposition: None,
        }
    }

    #[test]
    fn a_day_of_calls_gives_the_kpis_of_the_live_definitions() {
        let dir = std::env::temp_dir().join(format!("relais-report-{}", std::process::id()));
        let store = Store::open(&dir.join("r.sqlite3")).unwrap();
        // 2025-12-01 10:00 Paris = 09:00 UTC.
        let day = 1_764_579_600_000;
        for (id, outcome, wait) in [
            (1, Outcome::Answered, 10_000),
            (2, Outcome::Answered, 40_000),
            (6, Outcome::Answered, 40_000),
            (3, Outcome::Abandoned, 50_000),
            (4, Outcome::AbandonedShort, 2_000),
            (5, Outcome::Closed, 0),
            (7, Outcome::CallbackRequested, 300_000),
        ] {
            let mut record = record(id, outcome, day + id as i64, wait);
            // Call 6 was a callback task, answered the day before.
            if id == 6 {
                record.callback = true;
                record.ended_at_ms -= 86_400_000;
            }
            store.record_call(&record).unwrap();
        }
        for (state, at) in [
            // Available since the day before: staffed from the period's start.
            ("available", -3_600_000),
            ("on_call", 3_600_000),
            ("logged_out", 7_200_000),
        ] {
            store
                .record_agent_state(&AgentStateChange {
                    agent: "alice".to_owned(),
                    state: state.to_owned(),
                    reason: None,
                    at_ms: day + at,
                })
                .unwrap();
        }
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let services = BTreeMap::from([("caf".to_owned(), (20_000, paris.clone()))]);
        let rows = build(&store, day, day + 86_400_000, &services, &paris).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r.callbacks, 0);
        let earlier = build(
            &store,
            day - 86_400_000,
            day + 86_400_000,
            &services,
            &paris,
        )
        .unwrap();
        assert_eq!(
            earlier
                .iter()
                .map(|r| (r.date.as_str(), r.callbacks, r.offered, r.answered))
                .collect::<Vec<_>>(),
            [("2025-11-30", 1, 0, 0), ("2025-12-01", 0, 5, 2)],
            "a callback task is neither an offered nor an answered call"
        );
        assert_eq!(r.callback_requested, 1);
        assert_eq!(r.date, "2025-12-01");
        assert_eq!(
            (
                r.offered,
                r.answered,
                r.abandoned,
                r.short_abandoned,
                r.refused
            ),
            (5, 2, 1, 1, 1)
        );
        assert_eq!(r.service_level, Some(0.5));
        assert_eq!(r.asa_secs, Some(25.0));
        assert_eq!(r.aht_secs, Some(90.0));
        assert_eq!(
            r.abandonment_rate,
            Some(1.0 / 3.0),
            "the short abandon and the callback are out of the rate"
        );
        assert_eq!(r.occupancy, Some(0.5), "one hour on call of two staffed");
        assert!(
            csv(&rows)
                .lines()
                .nth(1)
                .unwrap()
                .starts_with("2025-12-01,caf,5,2,")
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
