//! HTTPS: the rustls server configuration, a certificate resolver whose certificate can be
//! swapped while serving, and the task that reloads it on SIGHUP or when the files change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::metrics::Metrics;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificate chain {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("cannot read private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS setup failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Hands rustls the current certificate; [`CertResolver::replace`] swaps it atomically.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver serving `key`.
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// Serves `key` to every new handshake from now on.
    pub fn replace(&self, key: CertifiedKey) {
        // A poisoned lock only means a writer panicked mid-swap; the Arc inside is still whole.
        let mut slot = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(key);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let slot = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(Arc::clone(&slot))
    }
}

/// Reads a PEM certificate chain and private key into a signing key rustls can serve.
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|err| TlsError::Cert {
            path: cert_path.to_owned(),
            reason: err.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Cert {
            path: cert_path.to_owned(),
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| TlsError::Key {
        path: key_path.to_owned(),
        reason: err.to_string(),
    })?;
    let signing_key =
        rustls::crypto::ring::sign::any_supported_type(&key).map_err(|err| TlsError::Key {
            path: key_path.to_owned(),
            reason: err.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|err| TlsError::Key {
        path: key_path.to_owned(),
        reason: format!("does not match the certificate: {err}"),
    })?;
    Ok(certified)
}

/// When the served certificate (the chain's first) stops being valid, Unix time in seconds;
/// `None` when it cannot be parsed.
pub fn expiry(key: &CertifiedKey) -> Option<i64> {
    let leaf = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Publishes the expiry of `key` (the certificate read from `path`) as a metric.
pub fn publish_expiry(metrics: &Metrics, path: &Path, key: &CertifiedKey) {
    let label = path.display().to_string();
    match expiry(key) {
        Some(at) => metrics
            .tls_expiry
            .with_label_values(&[label.as_str()])
            .set(at),
        None => tracing::warn!(cert = %label, "cannot read the certificate's expiry date"),
    }
}

/// The HTTPS server configuration (TLS 1.2 and 1.3, ring, HTTP/2 and HTTP/1.1 by ALPN).
pub fn server_config(resolver: Arc<CertResolver>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reloads the certificate on SIGHUP and, every `check_every` (if non-zero), when the
/// certificate or key file's modification time changed. A failed reload keeps the old one.
pub async fn reload_task(
    resolver: Arc<CertResolver>,
    cert_path: PathBuf,
    key_path: PathBuf,
    check_every: Duration,
    metrics: Metrics,
) {
    let mut stamps = file_stamps(&cert_path, &key_path);
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(stream) => Some(stream),
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGHUP; certificate reload by file check only");
            None
        }
    };
    let mut ticker = tokio::time::interval(if check_every.is_zero() {
        Duration::from_secs(3600)
    } else {
        check_every
    });
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        let reason = tokio::select! {
            Some(()) = async { match hangup.as_mut() { Some(stream) => stream.recv().await, None => None } } => "SIGHUP",
            _ = ticker.tick() => {
                if check_every.is_zero() {
                    continue;
                }
                let now = file_stamps(&cert_path, &key_path);
                if now == stamps {
                    continue;
                }
                "file change"
            }
        };
        stamps = file_stamps(&cert_path, &key_path);
        match load_certified_key(&cert_path, &key_path) {
            Ok(key) => {
                publish_expiry(&metrics, &cert_path, &key);
                resolver.replace(key);
                metrics.tls_reloads.with_label_values(&["ok"]).inc();
                tracing::info!(reason, cert = %cert_path.display(), "TLS certificate reloaded");
            }
            Err(err) => {
                metrics.tls_reloads.with_label_values(&["error"]).inc();
                tracing::error!(reason, error = %err, "TLS certificate reload failed; keeping the previous one");
            }
        }
    }
}

fn file_stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let stamp = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    (stamp(cert), stamp(key))
}
