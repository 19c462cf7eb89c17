//! What bounds the HTTP listener's connections: a global and a per-source-address cap, an
//! activity clock on each connection (so an idle one is closed), the descriptor limit raised at
//! start, and accept errors that back off and are logged at most once per period.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Why a new connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `http.max_connections` connections are open.
    Global,
    /// `http.max_connections_per_address` connections are open from this address.
    PerAddress,
}

impl Refusal {
    /// The label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Global => "global",
            Refusal::PerAddress => "per_address",
        }
    }
}

/// Counts open connections, in all and per source address.
#[derive(Debug)]
pub struct ConnectionLimits {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_address,
            open: Mutex::new(Counts::default()),
        })
    }

    /// Admits a connection from `address`, or says which cap it meets. The permit gives the
    /// place back when dropped.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Permit, Refusal> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.total >= self.max_total {
            return Err(Refusal::Global);
        }
        let from_here = open.by_address.get(&address).copied().unwrap_or(0);
        if from_here >= self.max_per_address {
            return Err(Refusal::PerAddress);
        }
        open.total += 1;
        open.by_address.insert(address, from_here + 1);
        Ok(Permit {
            limits: Arc::clone(self),
            address,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .total
    }
}

/// One admitted connection.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    address: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// When a connection last moved a byte either way, as milliseconds since its start.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long the connection has been silent both ways.
    pub fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// Completes once `activity` has been idle for `limit`; checks a few times per period.
pub async fn idle_for(activity: &Activity, limit: Duration) {
    loop {
        let idle = activity.idle();
        if idle >= limit {
            return;
        }
        let wait = (limit - idle).max(Duration::from_millis(50));
        tokio::time::sleep(wait).await;
    }
}

/// An IO stream that records its activity.
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }

    /// Passes a write's result on, counting it as activity when it moved bytes.
    fn wrote(&self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(written)) = result
            && written > 0
        {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
        {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises the soft limit on open descriptors to the hard limit; returns `(before, after)`.
pub fn raise_descriptor_limit() -> io::Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;
    }
    Ok((soft, hard.max(soft)))
}

/// Paces accept errors: the wait before the next accept doubles up to a second while errors
/// repeat, and a log line is written at most once per `LOG_EVERY` with the count since the last.
#[derive(Debug)]
pub struct AcceptBackoff {
    wait: Duration,
    suppressed: u64,
    logged_at: Option<Instant>,
}

const FIRST_WAIT: Duration = Duration::from_millis(5);
const LONGEST_WAIT: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(10);

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            wait: FIRST_WAIT,
            suppressed: 0,
            logged_at: None,
        }
    }
}

impl AcceptBackoff {
    /// Records an error at `now`: how long to wait, and whether to log it (with the number of
    /// errors not logged since the last line).
    pub fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let wait = self.wait;
        self.wait = (self.wait * 2).min(LONGEST_WAIT);
        let due = self
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        if due {
            self.logged_at = Some(now);
            let count = self.suppressed;
            self.suppressed = 0;
            (wait, Some(count))
        } else {
            self.suppressed += 1;
            (wait, None)
        }
    }

    /// An accept succeeded: the next error starts from the shortest wait again.
    pub fn succeeded(&mut self) {
        self.wait = FIRST_WAIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_address_cap_refuses_only_that_address_and_is_given_back() {
        let limits = ConnectionLimits::new(10, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PerAddress);
        let _other = limits.admit(b).unwrap();
        drop(first);
        assert!(limits.admit(a).is_ok());
    }

    #[test]
    fn the_global_cap_refuses_every_address() {
        let limits = ConnectionLimits::new(2, 5);
        let _one = limits.admit("192.0.2.1".parse().unwrap()).unwrap();
        let _two = limits.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert_eq!(
            limits.admit("192.0.2.3".parse().unwrap()).unwrap_err(),
            Refusal::Global
        );
        assert_eq!(limits.open(), 2);
    }

    #[test]
    fn repeated_accept_errors_back_off_and_are_logged_once_per_period() {
        let mut backoff = AcceptBackoff::default();
        let start = Instant::now();
        let (wait, log) = backoff.failed(start);
        assert_eq!((wait, log), (FIRST_WAIT, Some(0)));
        let mut logged = 0;
        let mut last_wait = wait;
        for ms in 1..1000 {
            let (wait, log) = backoff.failed(start + Duration::from_millis(ms));
            assert!(wait >= last_wait && wait <= LONGEST_WAIT);
            last_wait = wait;
            logged += usize::from(log.is_some());
        }
        assert_eq!(logged, 0, "no second line within the period");
        let (_, log) = backoff.failed(start + LOG_EVERY);
        assert_eq!(log, Some(999), "the next line counts what was not logged");
        backoff.succeeded();
        assert_eq!(backoff.failed(start + LOG_EVERY * 3).0, FIRST_WAIT);
    }
}
