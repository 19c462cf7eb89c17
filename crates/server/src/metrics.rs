//! Prometheus metrics of the server: one registry with process metrics, build information and
//! HTTP request counters. Cores report plain statistics; only this module speaks Prometheus.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

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
    /// Open websocket sessions by role.
    pub ws_sessions: IntGaugeVec,
    /// Websocket messages refused, by error code.
    pub ws_refused: IntCounterVec,
    /// Call records that could not be stored.
    pub store_errors: prometheus::IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
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
        let ws_sessions = IntGaugeVec::new(
            Opts::new("ws_sessions", "Open websocket sessions by role."),
            &["role"],
        )?;
        registry.register(Box::new(ws_sessions.clone()))?;
        let ws_refused = IntCounterVec::new(
            Opts::new(
                "ws_messages_refused_total",
                "Websocket messages refused, by error code.",
            ),
            &["code"],
        )?;
        registry.register(Box::new(ws_refused.clone()))?;
        let store_errors = prometheus::IntCounter::new(
            "store_errors_total",
            "Call records that could not be stored.",
        )?;
        registry.register(Box::new(store_errors.clone()))?;

        Ok(Self {
            registry,
            http_requests,
            http_duration,
            tls_reloads,
            start_time,
            calls,
            wait_seconds,
            queue_waiting,
            queue_longest_wait,
            agents,
            ws_sessions,
            ws_refused,
            store_errors,
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
