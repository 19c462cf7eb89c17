//! Prometheus metrics of the server: one registry with process metrics, build information and
//! HTTP request counters. Cores report plain statistics; only this module speaks Prometheus.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
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

        Ok(Self {
            registry,
            http_requests,
            http_duration,
            tls_reloads,
            start_time,
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
