//! The serving loop: binds the listener, accepts plain or TLS connections, serves the router
//! over HTTP/1.1 and HTTP/2 (with websocket upgrades), and drains gracefully on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::conn_limits::{AcceptBackoff, Activity, ConnectionLimits, Tracked};
use crate::state::AppState;
use crate::{http, tls};

/// Longest a client may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound, not yet running server.
pub struct Server {
    state: AppState,
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<TlsAcceptor>,
}

impl Server {
    /// Validates the setup, binds the HTTP(S) listener and loads the certificate.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let tls = if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
            Some((cert.clone(), key.clone()))
        } else {
            None
        };
        let listen = config.http.listen;
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        let state = AppState::new(config)?;
        let acceptor = match tls {
            Some((cert, key)) => {
                let certified = tls::load_certified_key(&cert, &key)?;
                tls::publish_expiry(state.metrics(), &cert, &certified);
                let resolver = Arc::new(tls::CertResolver::new(certified));
                let server_config = tls::server_config(Arc::clone(&resolver))?;
                let check = Duration::from_secs(state.config().tls.reload_check_secs);
                tokio::spawn(tls::reload_task(
                    resolver,
                    cert,
                    key,
                    check,
                    state.metrics().clone(),
                ));
                Some(TlsAcceptor::from(server_config))
            }
            None => None,
        };
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (http.listen)"))?;
        let local_addr = listener.local_addr()?;
        Ok(Self {
            state,
            listener,
            local_addr,
            tls: acceptor,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state, e.g. for tests that inspect metrics.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The base URL clients use.
    pub fn base_url(&self) -> String {
        if let Some(url) = &self.state.config().http.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Prints where the server listens and its consoles' links (stdout, for people and tests);
    /// in development, with ready-made demo tokens.
    pub fn print_banner(&self) {
        let base = self.base_url();
        println!("relais {} listening on {base}", crate::VERSION);
        println!("  consoles: {base}/kiosk  {base}/agent  {base}/supervisor");
        println!("  metrics:  {base}/metrics");
        for shard in self.state.media().shards() {
            println!(
                "  media shard {}: udp {}",
                shard.index(),
                shard.local_addr()
            );
        }
        if self.state.config().development() {
            println!(
                "  development mode: demo links (tokens valid {} h)",
                self.state.config().auth.token_ttl_secs / 3600
            );
            for (label, path, token) in
                crate::auth::demo_tokens(self.state.config(), self.state.tokens())
            {
                println!("    {label:<12} {base}{path}#token={token}");
            }
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, reports not ready and lets
    /// open requests finish within `http.shutdown_grace_secs`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Server {
            state,
            listener,
            local_addr,
            tls,
        } = self;
        let app = http::app(state.clone());
        let graceful = GracefulShutdown::new();
        let http_config = state.config().http.clone();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(http_config.header_read_timeout_secs));
        builder.http2().timer(TokioTimer::new());
        let idle_limit = Duration::from_secs(http_config.idle_timeout_secs);
        let limits = ConnectionLimits::new(
            http_config.max_connections,
            http_config.max_connections_per_address,
        );
        let mut backoff = AcceptBackoff::default();
        let grace = Duration::from_secs(http_config.shutdown_grace_secs);
        tokio::pin!(shutdown);
        state.set_ready(true);
        tracing::info!(%local_addr, tls = tls.is_some(), "serving");
        // On the signal, the calls drain while connections are still taken (`/readyz` says 503,
        // calls are refused); the listener closes once they have.
        let mut draining: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = None;
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown, if draining.is_none() => {
                    draining = Some(Box::pin(drain_calls(state.clone())));
                    continue;
                }
                () = async {
                    match draining.as_mut() {
                        Some(drain) => drain.await,
                        None => std::future::pending().await,
                    }
                } => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => {
                        backoff.succeeded();
                        pair
                    }
                    Err(err) => {
                        // Typically EMFILE: back off instead of spinning, log once a period.
                        let (wait, log) = backoff.failed(std::time::Instant::now());
                        if let Some(not_logged) = log {
                            tracing::warn!(error = %err, not_logged, "accept failed");
                        }
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                },
            };
            let permit = match limits.admit(peer.ip()) {
                Ok(permit) => permit,
                Err(refusal) => {
                    state
                        .metrics()
                        .connections_refused
                        .with_label_values(&[refusal.as_str()])
                        .inc();
                    tracing::debug!(%peer, cap = refusal.as_str(), "connection refused: at the cap");
                    drop(stream);
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let activity = Activity::new();
            let stream = Tracked::new(stream, activity.clone());
            let service = tower::ServiceExt::map_request(
                app.clone(),
                move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                },
            );
            let service = TowerToHyperService::new(service);
            let watcher = graceful.watcher();
            let builder = builder.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let serve = async {
                    match tls {
                        None => {
                            let conn = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(conn.into_owned()).await
                        }
                        Some(acceptor) => match handshake(&acceptor, stream).await {
                            Ok(stream) => {
                                let conn = builder
                                    .serve_connection_with_upgrades(TokioIo::new(stream), service);
                                watcher.watch(conn.into_owned()).await
                            }
                            Err(err) => {
                                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                                Ok(())
                            }
                        },
                    }
                };
                tokio::select! {
                    result = serve => {
                        if let Err(err) = result {
                            tracing::trace!(%peer, error = %err, "connection ended with an error");
                        }
                    }
                    () = crate::conn_limits::idle_for(&activity, idle_limit) => {
                        tracing::debug!(%peer, "closing an idle connection");
                    }
                }
            });
        }
        drop(listener);
        tracing::info!("shutting down: draining open connections");
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "connections still open after the grace period"
            );
        }
        state.media().stop();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Seconds a client told of the stop is asked to wait before connecting again.
const RETRY_AFTER_SECS: u64 = 5;

/// The stop of the call service: no new call, everyone told, calls in progress given
/// `recovery.drain_secs` to finish; then what is still connected is recorded `interrupted` and
/// wrap-ups are completed, while the calls still waiting stay in the journal for their kiosks
/// to take back after the restart.
async fn drain_calls(state: AppState) {
    state.begin_shutdown();
    state
        .hub()
        .broadcast(&relais_proto::ServerMessage::ServerShuttingDown {
            retry_after_secs: RETRY_AFTER_SECS,
        });
    let drain = Duration::from_secs(state.config().recovery.drain_secs);
    let until = tokio::time::Instant::now() + drain;
    let connected = || {
        state.calls().run(|cores, _| {
            cores
                .calls()
                .calls()
                .filter(|call| matches!(call.state, relais_call::CallState::Connected { .. }))
                .count()
        })
    };
    if !drain.is_zero() {
        tracing::info!(
            drain_secs = drain.as_secs(),
            "stopping: calls in progress may finish"
        );
    }
    while tokio::time::Instant::now() < until {
        match connected().await {
            Some(0) | None => break,
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    // What the call task still had to write is written before the journal is closed.
    let _ = state.calls().run_then_carry_out(|_, _| ()).await;
    let store = std::sync::Arc::clone(state.store());
    let now_ms = jiff::Timestamp::now().as_millisecond();
    match tokio::task::spawn_blocking(move || store.close_interrupted(now_ms)).await {
        Ok(Ok(waiting)) => tracing::info!(
            still_waiting = waiting.len(),
            "calls in progress recorded; waiting calls kept for their kiosks"
        ),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "cannot record the calls in progress at stop: the next start records them")
        }
        Err(err) => tracing::error!(error = %err, "the stop's writer failed"),
    }
}

async fn handshake<S>(
    acceptor: &TlsAcceptor,
    stream: S,
) -> anyhow::Result<tokio_rustls::server::TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let stream = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .context("TLS handshake timed out")??;
    Ok(stream)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// before anything is served: a signal that comes as soon as the server answers is not lost
/// (an uninstalled SIGTERM would kill the process without its orderly stop).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    let wait = |stream: std::io::Result<tokio::signal::unix::Signal>, name: &'static str| async move {
        match stream {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for {name}");
                std::future::pending::<()>().await;
            }
        }
    };
    async move {
        tokio::select! {
            () = wait(interrupt, "SIGINT") => tracing::info!("SIGINT received"),
            () = wait(terminate, "SIGTERM") => tracing::info!("SIGTERM received"),
        }
    }
}
