//! Shared state of the handlers and sessions: configuration, metrics, the session hub, the
//! call task's handle, the media shards, the store and the token key.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use relais_proto::CallId;
use relais_proto::messages::{CallRow, KpiSnapshot, ServiceInfo, WaitingCall};
use relais_store::Store;

use crate::auth::TokenKey;
use crate::calls::Calls;
use crate::config::Config;
use crate::hub::Hub;
use crate::media::MediaShards;
use crate::metrics::Metrics;

/// Call ids reserved in the store at a time.
const CALL_ID_BLOCK: u64 = 1000;

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    /// The services now: the file's with administrators' changes (see [`crate::admin`]).
    services: std::sync::RwLock<Arc<Vec<crate::config::ServiceConfig>>>,
    metrics: Metrics,
    ready: AtomicBool,
    hub: Arc<Hub>,
    calls: Calls,
    media: Arc<MediaShards>,
    store: Arc<Store>,
    /// Whether the store takes writes.
    health: Arc<crate::calls::StoreHealth>,
    /// Set when the server starts to stop: no new calls.
    shutting_down: AtomicBool,
    tokens: TokenKey,
    enrolment: crate::enrolment::Enrolment,
    signin: crate::signin::SignIn,
    documents: Arc<crate::documents::Documents>,
    /// Call ids reserved in the store and not yet handed out: `(next, end)`.
    call_ids: std::sync::Mutex<(u64, u64)>,
}

impl AppState {
    /// Opens the store, starts the media shards, the dispatcher task and the KPI publisher.
    /// Must run inside a tokio runtime. The server is not ready until [`AppState::set_ready`].
    pub fn new(mut config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new()?;
        let store_path = config.data_dir.join("relais.sqlite3");
        let store = Arc::new(Store::open(&store_path).map_err(|err| {
            anyhow::anyhow!("cannot open the store {}: {err}", store_path.display())
        })?);
        // Administrators' changes to the services since the file was written.
        let stored = store
            .admin_services()
            .map_err(|err| anyhow::anyhow!("cannot read the administrators' services: {err}"))?;
        if !stored.is_empty() {
            let (services, warnings) = crate::admin::merge(&config.services, &stored);
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            match crate::admin::check(&services) {
                Ok(()) => config.services = services,
                Err(err) => {
                    tracing::error!(error = %err, "the administrators' services do not fit together; serving the file's")
                }
            }
        }
        let config = Arc::new(config);
        crate::calls::replay_spill(&store, &config.spill_path())?;
        let first_call = store
            .reserve_call_ids(CALL_ID_BLOCK)
            .map_err(|err| anyhow::anyhow!("cannot reserve call ids in the store: {err}"))?;
        let recovered = recover(&store)?;
        let tokens = TokenKey::new(&crate::auth::load_secret(&config)?);
        let enrolment = crate::enrolment::Enrolment::load(
            &store
                .kiosks()
                .map_err(|err| anyhow::anyhow!("cannot read the enrolled kiosks: {err}"))?,
        );
        let signin = crate::signin::SignIn::load(&config, &store)?;
        let (media_events, media_rx) = tokio::sync::mpsc::unbounded_channel();
        let wait_audio = crate::audio::WaitAudio::load(&config)?;
        let media = Arc::new(
            MediaShards::start(&config.media, media_events, &metrics.media)?
                .with_wait_audio(wait_audio),
        );
        let hub = Arc::new(Hub::default());
        let health = Arc::new(crate::calls::StoreHealth::default());
        let documents = Arc::new(crate::documents::Documents::new(config.documents.clone()));
        let calls = crate::calls::start(crate::calls::Context {
            config: Arc::clone(&config),
            hub: Arc::clone(&hub),
            store: Arc::clone(&store),
            media: Arc::clone(&media),
            metrics: metrics.clone(),
            media_events: media_rx,
            health: Arc::clone(&health),
            documents: Arc::clone(&documents),
            recovered,
        })?;
        let state = Self {
            inner: Arc::new(Inner {
                services: std::sync::RwLock::new(Arc::new(config.services.clone())),
                config,
                metrics,
                ready: AtomicBool::new(false),
                hub,
                calls,
                media,
                store,
                health,
                shutting_down: AtomicBool::new(false),
                tokens,
                enrolment,
                signin,
                documents,
                call_ids: std::sync::Mutex::new((first_call, first_call + CALL_ID_BLOCK)),
            }),
        };
        tokio::spawn(crate::kpi::publish(state.clone()));
        tokio::spawn(crate::signin::sweep_every_minute(state.clone()));
        tokio::spawn(crate::retention::daily(
            Arc::clone(state.store()),
            state.config().records.retention_days,
        ));
        Ok(state)
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether the server accepts work (false before start and while draining on shutdown).
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && self.inner.health.is_healthy()
    }

    /// Whether the store takes writes (while it does not, calls are refused and the server
    /// is not ready).
    pub fn store_health(&self) -> &crate::calls::StoreHealth {
        &self.inner.health
    }

    /// Whether the server is stopping (no new calls).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Acquire)
    }

    /// Marks the server as stopping: not ready, no new calls.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        self.set_ready(false);
    }

    /// Marks the server ready or draining.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// The files of the calls in progress.
    pub fn documents(&self) -> &Arc<crate::documents::Documents> {
        &self.inner.documents
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// The call task: the dispatcher and the call core.
    pub fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    pub fn media(&self) -> &Arc<MediaShards> {
        &self.inner.media
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    pub fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    /// The enrolled kiosks' pairing generations.
    pub fn enrolment(&self) -> &crate::enrolment::Enrolment {
        &self.inner.enrolment
    }

    /// The services now (the file's with administrators' changes).
    pub fn services(&self) -> Arc<Vec<crate::config::ServiceConfig>> {
        Arc::clone(
            &self
                .inner
                .services
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Serves `next` as the services from now on: checked as the file's are, then the call
    /// task reloads its queues. `Err`: refused, nothing changed.
    pub async fn apply_services(
        &self,
        next: Vec<crate::config::ServiceConfig>,
    ) -> Result<(), String> {
        crate::admin::check(&next)?;
        let mut config = (*self.inner.config).clone();
        config.services.clone_from(&next);
        let dispatch = crate::calls::dispatch_config(&config);
        let calls = crate::calls::call_config(&config);
        match self
            .calls()
            .run(move |cores, now| cores.reload_services(now, dispatch, calls))
            .await
        {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(err.to_string()),
            None => return Err("the call task is gone".into()),
        }
        *self
            .inner
            .services
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        self.calls().kpis_dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Browser sign-ins.
    pub fn signin(&self) -> &crate::signin::SignIn {
        &self.inner.signin
    }

    /// The claims of a token signed with the server's key, not expired, and — for an enrolled
    /// kiosk's device credential — neither revoked nor replaced by a later pairing.
    pub fn verify_token(
        &self,
        token: &str,
    ) -> Result<crate::auth::Claims, crate::auth::TokenError> {
        let claims = self.inner.tokens.verify(token, crate::auth::now_secs())?;
        self.inner.enrolment.check(&claims)?;
        Ok(claims)
    }

    /// A new call id, never handed out before: ids come from blocks reserved durably in the
    /// store, so a crash skips the rest of a block instead of reusing ids of calls whose
    /// records were lost. A new block costs one small store write every `CALL_ID_BLOCK` calls.
    pub fn next_call_id(&self) -> CallId {
        let mut ids = self
            .inner
            .call_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.0 >= ids.1 {
            match self.inner.store.reserve_call_ids(CALL_ID_BLOCK) {
                Ok(first) => *ids = (first, first + CALL_ID_BLOCK),
                Err(err) => {
                    // Keep numbering past the old block; the next call tries the store again.
                    tracing::error!(error = %err, "cannot reserve call ids in the store");
                    ids.1 = ids.0 + 1;
                }
            }
        }
        let id = ids.0;
        ids.0 += 1;
        CallId(id)
    }

    /// The services with their open state now.
    pub async fn services_now(&self) -> Vec<ServiceInfo> {
        // Told closed until the dispatcher says otherwise.
        let services: Vec<ServiceInfo> = self
            .services()
            .iter()
            .map(|s| ServiceInfo {
                id: s.id.clone(),
                name: s.name.clone(),
                name_en: s.name_en.clone(),
                open: false,
                interpreter: s.interpreter,
                dispositions: s.dispositions.clone(),
            })
            .collect();
        self.calls()
            .query(move |dispatcher, now| {
                services
                    .into_iter()
                    .map(|service| ServiceInfo {
                        open: dispatcher
                            .is_open(&service.id.as_str().into(), now)
                            .unwrap_or(false),
                        ..service
                    })
                    .collect()
            })
            .await
            .unwrap_or_default()
    }

    /// The KPI snapshot of every queue and agent.
    pub async fn kpi_snapshot(&self) -> Option<KpiSnapshot> {
        crate::kpi::snapshot(self).await
    }

    /// Calls waiting now, oldest first.
    /// The connected calls a supervisor with `claims` may supervise, oldest first.
    pub async fn live_calls(
        &self,
        claims: crate::auth::Claims,
    ) -> Option<Vec<relais_proto::messages::LiveCall>> {
        let names: std::collections::BTreeMap<String, String> = self
            .services()
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect();
        self.calls()
            .run(move |cores, now| {
                let mut calls: Vec<(std::time::Instant, relais_proto::messages::LiveCall)> =
                    Vec::new();
                for call in cores.calls().calls() {
                    let relais_call::CallState::Connected { since } = call.state else {
                        continue;
                    };
                    if claims.role != relais_proto::Role::Admin
                        && !claims.may_supervise(&call.handled_by)
                    {
                        continue;
                    }
                    let leg_of = |role| call.leg_of_role(role).map(|leg| leg.subject.clone());
                    calls.push((
                        since,
                        relais_proto::messages::LiveCall {
                            call: call.id,
                            service: call.handled_by.clone(),
                            service_name: names.get(&call.handled_by).cloned(),
                            agent: leg_of(relais_proto::LegRole::Agent),
                            site: call.site.clone(),
                            since_secs: now.saturating_duration_since(since).as_secs(),
                            supervisors: call
                                .legs
                                .iter()
                                .filter_map(|leg| {
                                    leg.mode.map(|mode| relais_proto::messages::Supervisor {
                                        name: leg.name.clone(),
                                        mode,
                                    })
                                })
                                .collect(),
                        },
                    ));
                }
                calls.sort_by_key(|(at, call)| (*at, call.call));
                calls.into_iter().map(|(_, call)| call).collect()
            })
            .await
    }

    pub async fn waiting_calls(&self) -> Option<Vec<WaitingCall>> {
        let queues: Vec<String> = self.services().iter().map(|s| s.id.clone()).collect();
        self.calls()
            .query(move |dispatcher, now| {
                let mut calls: Vec<(std::time::Instant, WaitingCall)> = Vec::new();
                for queue in queues {
                    for view in dispatcher.waiting_calls(&queue.as_str().into(), now) {
                        calls.push((
                            view.enqueued_at,
                            WaitingCall {
                                call: view.call,
                                service: queue.clone(),
                                site: view.site.to_string(),
                                waited_secs: now
                                    .saturating_duration_since(view.enqueued_at)
                                    .as_secs(),
                                offered: matches!(
                                    view.status,
                                    relais_dispatch::CallStatus::Offered(_)
                                ),
                            },
                        ));
                    }
                }
                calls.sort_by_key(|(at, call)| (*at, call.call));
                calls.into_iter().map(|(_, call)| call).collect()
            })
            .await
    }

    /// An agent's calls since local midnight (in the first service's time zone), oldest
    /// first; or, with a search, the calls matching it, newest first.
    pub async fn my_calls(
        &self,
        agent: &str,
        search: Option<CallSearch>,
    ) -> anyhow::Result<Vec<CallRow>> {
        let zone = self
            .services()
            .first()
            .map(|s| s.timezone.zone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let now = jiff::Timestamp::now();
        let midnight = now
            .to_zoned(zone)
            .start_of_day()?
            .timestamp()
            .as_millisecond();
        let store = Arc::clone(self.store());
        let agent = agent.to_owned();
        let records = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let filter = match &search {
                // Today: every call since midnight, oldest first.
                None => relais_store::HistoryFilter {
                    from_ms: midnight,
                    to_ms: i64::MAX,
                    service: None,
                    case_prefix: None,
                    limit: usize::MAX,
                },
                Some(search) => relais_store::HistoryFilter {
                    from_ms: search.from_ms.unwrap_or(i64::MIN),
                    to_ms: search.to_ms.unwrap_or(i64::MAX),
                    service: search.service.as_deref(),
                    case_prefix: search.case_ref.as_deref(),
                    limit: HISTORY_MAX,
                },
            };
            let mut records = store.agent_history(&agent, &filter)?;
            if search.is_none() {
                records.reverse();
            }
            let ids: Vec<u64> = records.iter().map(|(r, _)| r.call_id).collect();
            let kept = store.documents_of(&agent, &ids)?;
            Ok((records, kept))
        })
        .await??;
        let (records, kept) = records;
        let name_of = |id: &str| {
            self.services()
                .iter()
                .find(|service| service.id == id)
                .map(|service| service.name.clone())
        };
        Ok(records
            .into_iter()
            .map(|(r, note)| CallRow {
                call: CallId(r.call_id),
                service_name: name_of(&r.queue),
                service: r.queue,
                site: r.site,
                outcome: r.outcome,
                ended_at_ms: r.ended_at_ms,
                wait_secs: r.wait_ms as f64 / 1000.0,
                talk_secs: r.talk_ms.map(|ms| ms as f64 / 1000.0),
                disposition: r.disposition,
                case_ref: note.case_ref,
                notes: note.notes,
                documents: kept
                    .iter()
                    .filter(|meta| meta.call_id == r.call_id)
                    .map(crate::documents::kept_document)
                    .collect(),
            })
            .collect())
    }
}

/// The most calls a history search returns.
const HISTORY_MAX: usize = 200;

/// An agent's search of its history (`my_calls` with filters).
#[derive(Debug, Clone, Default)]
pub struct CallSearch {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub service: Option<String>,
    pub case_ref: Option<String>,
}

/// What the previous run left in the journal: the calls that were connected are recorded
/// `interrupted`, wrap-ups are completed, and the calls that were waiting are handed back
/// (with the instant the server stopped) to be kept for their kiosks. Every agent still signed
/// in when the server stopped is recorded `not_ready` ("restart") from that instant, and the
/// state it was in is kept for its return.
/// What the journal of the last run leaves to this one: the agents signed in when it stopped
/// (recorded `not_ready` "restart" now) and the calls that waited (the connected ones are
/// recorded `interrupted` now).
pub fn recover(store: &Store) -> anyhow::Result<crate::calls::Recovery> {
    let unreadable =
        |err: relais_store::StoreError| anyhow::anyhow!("cannot read the journal: {err}");
    let stopped_at = store
        .last_heartbeat()
        .map_err(unreadable)?
        .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
    let mut recovery = crate::calls::Recovery {
        waiting: Vec::new(),
        agents: Vec::new(),
        callbacks: store.pending_callbacks().map_err(unreadable)?,
        stopped_at_ms: stopped_at,
    };
    let signed_in: Vec<relais_store::AgentStateChange> = store
        .last_agent_states()
        .map_err(unreadable)?
        .into_iter()
        .filter(|last| {
            last.state != relais_proto::AgentStateName::LoggedOut.as_str()
                && last.reason.as_deref() != Some(crate::calls::RESTART_REASON)
        })
        .collect();
    if !signed_in.is_empty() {
        let restart: Vec<relais_store::JournalOp> = signed_in
            .iter()
            .map(|last| {
                relais_store::JournalOp::AgentState(relais_store::AgentStateChange {
                    agent: last.agent.clone(),
                    state: relais_proto::AgentStateName::NotReady.as_str().to_owned(),
                    reason: Some(crate::calls::RESTART_REASON.to_owned()),
                    at_ms: stopped_at.max(last.at_ms),
                })
            })
            .collect();
        store.commit_batch(&restart).map_err(|err| {
            anyhow::anyhow!("cannot record the agents the last stop signed out: {err}")
        })?;
        tracing::warn!(
            agents = signed_in.len(),
            "agents were signed in when the server stopped: each gets its state back if it \
             returns within the grace period"
        );
        recovery.agents = signed_in;
    }
    let live = store.live_calls().map_err(unreadable)?;
    if live.is_empty() {
        return Ok(recovery);
    }
    recovery.waiting = store
        .close_interrupted(stopped_at)
        .map_err(|err| anyhow::anyhow!("cannot close the calls the last stop cut short: {err}"))?;
    tracing::warn!(
        interrupted = live.len() - recovery.waiting.len(),
        waiting = recovery.waiting.len(),
        stopped_at_ms = stopped_at,
        "the server stopped with calls in progress: connected calls are recorded interrupted, \
         waiting ones are kept for their kiosks"
    );
    Ok(recovery)
}
