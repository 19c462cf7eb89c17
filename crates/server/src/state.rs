//! Shared state of the HTTP handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Config;
use crate::metrics::Metrics;

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    metrics: Metrics,
    ready: AtomicBool,
}

impl AppState {
    /// Builds the state; the server is not ready until [`AppState::set_ready`].
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let metrics = Metrics::new()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                metrics,
                ready: AtomicBool::new(false),
            }),
        })
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
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Marks the server ready or draining.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }
}
