//! Prometheus metrics of the server: one registry with process metrics, build information and
//! HTTP request counters. Cores report plain statistics; only this module speaks Prometheus.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use relais_proto::Role;

/// The server's metrics, registered once at start.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by matched route, method and status code.
    pub http_requests: IntCounterVec,
    /// HTTP request durations by matched route.
    pub http_duration: HistogramVec,
    /// TLS certificate reloads by result (`ok`, `error`).
    pub tls_reloads: IntCounterVec,
    /// Browser sign-ins by method (`oidc`, `local`) and result (`ok`, `refused`, `no_role`,
    /// `locked`, `error`).
    pub signins: IntCounterVec,
    /// Server start time, seconds since the Unix epoch.
    pub start_time: IntGauge,
    /// Calls ended, by queue (where they were placed) and outcome.
    pub calls: IntCounterVec,
    /// Queue waits of ended calls, by queue.
    pub wait_seconds: HistogramVec,
    /// Calls waiting now, by queue.
    pub queue_waiting: IntGaugeVec,
    /// Longest current wait, by queue.
    pub queue_longest_wait: IntGaugeVec,
    /// Logged-in agents by state.
    pub agents: IntGaugeVec,
    /// The queues and what alerts watch in them.
    pub queues: QueueMetrics,
    /// When the served TLS certificate expires, Unix time in seconds, by certificate file
    /// (no series without `[tls]`).
    pub tls_expiry: IntGaugeVec,
    /// Open websocket sessions by role.
    pub ws_sessions: IntGaugeVec,
    /// Websocket messages refused, by error code.
    pub ws_refused: IntCounterVec,
    /// HTTP connections closed on accept because a cap was reached, by cap.
    pub connections_refused: IntCounterVec,
    /// Kiosk calls answered `rate_limited` after repeated refusals, not queued nor recorded.
    pub refusals_suppressed: prometheus::IntCounter,
    /// Kiosks that got their call back after their connection dropped.
    pub kiosk_resumes: prometheus::IntCounter,
    /// Failed attempts to write records and journal to the store.
    pub store_errors: prometheus::IntCounter,
    /// 1 while the store takes writes, 0 while writes fail (the server is not ready then).
    pub store_healthy: IntGauge,
    /// Records and journal entries waiting to be written again.
    pub store_pending_writes: IntGauge,
    /// Entries given up because the queue of writes waiting was full.
    pub store_dropped: prometheus::IntCounter,
    /// Transactions committed by the call task (each turn's writes share one).
    pub store_commits: prometheus::IntCounter,
    /// Writes moved from memory to the spill file.
    pub store_spilled_total: prometheus::IntCounter,
    /// Writes waiting in the spill file.
    pub store_spilled_writes: IntGauge,
    /// Media shard counters, written by the shard threads.
    pub media: MediaMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Per-queue gauges refreshed every second from the dispatcher's KPIs: whether a queue is
/// open, who can take its calls, its service level against its target.
#[derive(Clone)]
pub struct QueueMetrics {
    /// 1 while the queue is open (within its hours), 0 while closed.
    pub open: IntGaugeVec,
    /// Signed-in agents who have the queue's skills, by queue and state (`available`,
    /// `reserved`, `on_call`, `wrap_up`, `not_ready`).
    pub agents: IntGaugeVec,
    /// Share of answered calls answered within the queue's threshold, by queue and KPI window
    /// (`recent`, `today`); no series while the window has no answered call.
    pub service_level: GaugeVec,
    /// The queue's service-level target (`services.service_level_target`).
    pub service_level_target: GaugeVec,
    /// Calls offered to the queue, by queue and KPI window.
    pub offered: IntGaugeVec,
}

impl QueueMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let open = IntGaugeVec::new(
            Opts::new(
                "queue_open",
                "1 while the queue is within its opening hours, 0 while closed.",
            ),
            &["queue"],
        )?;
        registry.register(Box::new(open.clone()))?;
        let agents = IntGaugeVec::new(
            Opts::new(
                "queue_agents",
                "Signed-in agents with the queue's skills, by queue and state.",
            ),
            &["queue", "state"],
        )?;
        registry.register(Box::new(agents.clone()))?;
        let service_level = GaugeVec::new(
            Opts::new(
                "queue_service_level_ratio",
                "Share of answered calls answered within the queue's threshold, by KPI window (recent: the last 15 minutes; today).",
            ),
            &["queue", "window"],
        )?;
        registry.register(Box::new(service_level.clone()))?;
        let service_level_target = GaugeVec::new(
            Opts::new(
                "queue_service_level_target_ratio",
                "The queue's service-level target (services.service_level_target).",
            ),
            &["queue"],
        )?;
        registry.register(Box::new(service_level_target.clone()))?;
        let offered = IntGaugeVec::new(
            Opts::new(
                "queue_offered_calls",
                "Calls offered to the queue, by KPI window (recent, today).",
            ),
            &["queue", "window"],
        )?;
        registry.register(Box::new(offered.clone()))?;
        Ok(Self {
            open,
            agents,
            service_level,
            service_level_target,
            offered,
        })
    }
}

impl Metrics {
    /// Creates the registry and every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("relais".to_owned()), None)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;

        let build_info = IntGauge::with_opts(
            Opts::new("build_info", "Build information; always 1.")
                .const_label("version", crate::VERSION),
        )?;
        build_info.set(1);
        registry.register(Box::new(build_info))?;

        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )?;
        registry.register(Box::new(http_requests.clone()))?;

        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request durations by route.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(http_duration.clone()))?;

        let tls_reloads = IntCounterVec::new(
            Opts::new(
                "tls_certificate_reloads_total",
                "TLS certificate reloads by result.",
            ),
            &["result"],
        )?;
        registry.register(Box::new(tls_reloads.clone()))?;

        let signins = IntCounterVec::new(
            Opts::new(
                "signins_total",
                "Browser sign-ins by method (oidc, local) and result (ok, refused, no_role, locked, error).",
            ),
            &["method", "result"],
        )?;
        registry.register(Box::new(signins.clone()))?;

        let start_time =
            IntGauge::new("start_time_seconds", "Server start, Unix time in seconds.")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        start_time.set(i64::try_from(now).unwrap_or(i64::MAX));
        registry.register(Box::new(start_time.clone()))?;

        let calls = IntCounterVec::new(
            Opts::new("calls_total", "Calls ended, by queue and outcome."),
            &["queue", "outcome"],
        )?;
        registry.register(Box::new(calls.clone()))?;
        let wait_seconds = HistogramVec::new(
            HistogramOpts::new("call_wait_seconds", "Queue wait of ended calls, by queue.")
                .buckets(vec![
                    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                ]),
            &["queue"],
        )?;
        registry.register(Box::new(wait_seconds.clone()))?;
        let queue_waiting = IntGaugeVec::new(
            Opts::new("queue_waiting_calls", "Calls waiting now, by queue."),
            &["queue"],
        )?;
        registry.register(Box::new(queue_waiting.clone()))?;
        let queue_longest_wait = IntGaugeVec::new(
            Opts::new(
                "queue_longest_wait_seconds",
                "Longest current wait, by queue.",
            ),
            &["queue"],
        )?;
        registry.register(Box::new(queue_longest_wait.clone()))?;
        let agents = IntGaugeVec::new(
            Opts::new("agents", "Logged-in agents by state."),
            &["state"],
        )?;
        registry.register(Box::new(agents.clone()))?;
        let queues = QueueMetrics::new(&registry)?;
        let tls_expiry = IntGaugeVec::new(
            Opts::new(
                "tls_certificate_expiry_timestamp_seconds",
                "When the served TLS certificate (the chain's first) stops being valid, Unix time in seconds.",
            ),
            &["certificate"],
        )?;
        registry.register(Box::new(tls_expiry.clone()))?;
        let ws_sessions = IntGaugeVec::new(
            Opts::new("ws_sessions", "Open websocket sessions by role."),
            &["role"],
        )?;
        registry.register(Box::new(ws_sessions.clone()))?;
        // Every role's series exists from the start, at 0, so a dashboard never sees a gap.
        for role in [Role::Kiosk, Role::Agent, Role::Supervisor, Role::Admin] {
            ws_sessions.with_label_values(&[role.as_str()]).set(0);
        }
        let ws_refused = IntCounterVec::new(
            Opts::new(
                "ws_messages_refused_total",
                "Websocket messages refused, by error code.",
            ),
            &["code"],
        )?;
        registry.register(Box::new(ws_refused.clone()))?;
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "http_connections_refused_total",
                "HTTP connections closed on accept because a connection cap was reached.",
            ),
            &["cap"],
        )?;
        registry.register(Box::new(connections_refused.clone()))?;
        let refusals_suppressed = prometheus::IntCounter::new(
            "calls_refusals_suppressed_total",
            "Kiosk calls answered rate_limited after repeated refusals (not queued, not recorded).",
        )?;
        registry.register(Box::new(refusals_suppressed.clone()))?;
        let kiosk_resumes = prometheus::IntCounter::new(
            "kiosk_resumes_total",
            "Kiosks whose connection dropped and that got their call back (waiting or connected) within recovery.resume_secs.",
        )?;
        registry.register(Box::new(kiosk_resumes.clone()))?;
        let store_errors = prometheus::IntCounter::new(
            "store_errors_total",
            "Call records that could not be stored.",
        )?;
        registry.register(Box::new(store_errors.clone()))?;
        let store_healthy = IntGauge::new(
            "store_healthy",
            "1 while the store takes writes; 0 while they fail (not ready, calls refused).",
        )?;
        store_healthy.set(1);
        registry.register(Box::new(store_healthy.clone()))?;
        let store_pending_writes = IntGauge::new(
            "store_pending_writes",
            "Records and journal entries waiting to be written again.",
        )?;
        registry.register(Box::new(store_pending_writes.clone()))?;
        let store_dropped = prometheus::IntCounter::new(
            "store_dropped_total",
            "Records and journal entries given up: the queue of writes waiting was full.",
        )?;
        registry.register(Box::new(store_dropped.clone()))?;
        let store_commits = prometheus::IntCounter::new(
            "store_commits_total",
            "Transactions of records and journal entries committed (one per turn of the call \
             task, whatever number of requests the turn took).",
        )?;
        registry.register(Box::new(store_commits.clone()))?;
        let store_spilled_total = prometheus::IntCounter::new(
            "store_spilled_total",
            "Records and journal entries moved from memory to the spill file while the store \
             refused them.",
        )?;
        registry.register(Box::new(store_spilled_total.clone()))?;
        let store_spilled_writes = IntGauge::new(
            "store_spilled_writes",
            "Records and journal entries waiting in the spill file (part of store_pending_writes).",
        )?;
        registry.register(Box::new(store_spilled_writes.clone()))?;
        let media = MediaMetrics::new(&registry)?;

        Ok(Self {
            registry,
            http_requests,
            http_duration,
            tls_reloads,
            signins,
            start_time,
            calls,
            wait_seconds,
            queue_waiting,
            queue_longest_wait,
            agents,
            queues,
            tls_expiry,
            ws_sessions,
            ws_refused,
            connections_refused,
            refusals_suppressed,
            kiosk_resumes,
            store_errors,
            store_healthy,
            store_pending_writes,
            store_commits,
            store_spilled_total,
            store_spilled_writes,
            store_dropped,
            media,
        })
    }

    /// The registry, for subsystems that add metrics of their own.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::with_capacity(8 * 1024);
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|err| prometheus::Error::Msg(err.to_string()))
    }
}

/// Upper bounds of the residence-time buckets, in seconds: fine below a few milliseconds,
/// where a healthy shard lives.
const RESIDENCE_BUCKETS: [f64; 21] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_15, 0.000_2, 0.000_3, 0.000_4, 0.000_5, 0.000_75, 0.001,
    0.0015, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Media metrics, one series per shard (label `shard`). The shard threads update them; the
/// media core itself only keeps plain counters.
#[derive(Clone)]
pub struct MediaMetrics {
    /// Time a datagram spends in the server: from the kernel's receive timestamp to the end
    /// of the `sendmmsg` of the batch it arrived in (everything it caused is sent by then).
    pub residence_seconds: HistogramVec,
    pub datagrams_received: IntCounterVec,
    pub datagrams_sent: IntCounterVec,
    pub bytes_received: IntCounterVec,
    pub bytes_sent: IntCounterVec,
    pub rtp_forwarded: IntCounterVec,
    pub hold_packets: IntCounterVec,
    pub send_dropped: IntCounterVec,
    pub receive_overflow: IntCounterVec,
    pub unknown_dropped: IntCounterVec,
    pub consent_expired: IntCounterVec,
    pub peers: IntGaugeVec,
    pub rooms: IntGaugeVec,
}

impl std::fmt::Debug for MediaMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaMetrics").finish_non_exhaustive()
    }
}

impl MediaMetrics {
    /// Creates the media metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounterVec, prometheus::Error> {
            let metric = IntCounterVec::new(Opts::new(name, help), &["shard"])?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGaugeVec, prometheus::Error> {
            let metric = IntGaugeVec::new(Opts::new(name, help), &["shard"])?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let residence_seconds = HistogramVec::new(
            HistogramOpts::new(
                "media_residence_seconds",
                "Time from a datagram's arrival (kernel timestamp) to the end of the send of its \
                 batch, by shard: the delay the SFU adds.",
            )
            .buckets(RESIDENCE_BUCKETS.to_vec()),
            &["shard"],
        )?;
        registry.register(Box::new(residence_seconds.clone()))?;
        Ok(Self {
            residence_seconds,
            datagrams_received: counter(
                "media_datagrams_received_total",
                "UDP datagrams received, by shard.",
            )?,
            datagrams_sent: counter(
                "media_datagrams_sent_total",
                "UDP datagrams handed to the kernel, by shard.",
            )?,
            bytes_received: counter(
                "media_bytes_received_total",
                "UDP bytes received, by shard.",
            )?,
            bytes_sent: counter("media_bytes_sent_total", "UDP bytes sent, by shard.")?,
            rtp_forwarded: counter(
                "media_rtp_forwarded_total",
                "RTP packets forwarded (one per receiving leg), by shard.",
            )?,
            hold_packets: counter(
                "media_hold_packets_total",
                "Packets of hold audio and announcements played to waiting kiosks, by shard.",
            )?,
            send_dropped: counter(
                "media_send_dropped_total",
                "Datagrams the kernel refused to send, by shard.",
            )?,
            receive_overflow: counter(
                "media_receive_overflow_total",
                "Datagrams the kernel dropped for a full receive buffer, by shard.",
            )?,
            unknown_dropped: counter(
                "media_unknown_dropped_total",
                "Datagrams from unknown addresses that were not ours to answer, by shard.",
            )?,
            consent_expired: counter(
                "media_consent_expired_total",
                "Peers dropped because their ICE consent expired, by shard.",
            )?,
            peers: gauge("media_peers", "Peers on the shard now.")?,
            rooms: gauge("media_rooms", "Rooms on the shard now.")?,
        })
    }
}
