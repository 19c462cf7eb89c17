//! HTTPS served directly: a certificate made by the test, a real TLS client, and a certificate
//! swapped on SIGHUP without a restart.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use relais_e2e::{RunningServer, parse_response, temp_dir};
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate for localhost valid until `year`-01-01, written to the test's directory.
fn make_certificate_until(dir: &Path, year: i32) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.der().clone()
}

/// The expiry metric of the served certificate, read over HTTPS.
fn expiry_metric(addr: SocketAddr, trusted: &[CertificateDer<'static>]) -> Option<i64> {
    let (_, body, _) = https_get(addr, "/metrics", trusted);
    body.lines()
        .find(|l| l.starts_with("relais_tls_certificate_expiry_timestamp_seconds{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn make_certificate(dir: &Path) -> CertificateDer<'static> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.der().clone()
}

/// GETs `path` over TLS trusting only the `trusted` certificates; returns the status, body and the certificate
/// the server presented.
fn https_get(
    addr: SocketAddr,
    path: &str,
    trusted: &[CertificateDer<'static>],
) -> (u16, String, CertificateDer<'static>) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut connection, &mut socket);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    // The server closes after the response; a missing close_notify is not our concern here.
    let _ = tls.read_to_end(&mut raw);
    let presented = connection.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    let response = parse_response(&raw);
    (response.status, response.body, presented)
}

fn tls_config(dir: &Path) -> String {
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[media]\nport = 0\nshards = 1\n[tls]\ncert = \"{}\"\nkey = \"{}\"\nreload_check_secs = 0\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    )
}

#[test]
fn healthz_is_served_over_https_with_the_configured_certificate() {
    let dir = temp_dir("https");
    let cert = make_certificate(&dir);
    let server = RunningServer::start_in(dir.clone(), &tls_config(&dir));
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    let (status, body, presented) = https_get(server.addr, "/healthz", std::slice::from_ref(&cert));
    assert_eq!(status, 200);
    assert_eq!(body, "ok\n");
    assert_eq!(presented, cert);
}

#[test]
fn sighup_reloads_a_replaced_certificate() {
    let dir = temp_dir("https");
    let first = make_certificate(&dir);
    let server = RunningServer::start_in(dir.clone(), &tls_config(&dir));
    assert_eq!(
        https_get(server.addr, "/healthz", std::slice::from_ref(&first)).2,
        first
    );

    let second = make_certificate(&dir);
    assert_ne!(first, second);
    // Nothing changes without the signal (file checks are off in this configuration).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        https_get(server.addr, "/healthz", &[first.clone(), second.clone()]).2,
        first
    );

    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, presented) =
            https_get(server.addr, "/healthz", &[first.clone(), second.clone()]);
        assert_eq!(status, 200);
        if presented == second {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_served_certificate_s_expiry_is_a_metric_and_follows_a_reload() {
    // 2031-01-01 and 2032-01-01, Unix time.
    const END_2031: i64 = 1_924_992_000;
    const END_2032: i64 = 1_956_528_000;
    let dir = temp_dir("https");
    let first = make_certificate_until(&dir, 2031);
    let server = RunningServer::start_in(dir.clone(), &tls_config(&dir));
    assert_eq!(
        expiry_metric(server.addr, std::slice::from_ref(&first)),
        Some(END_2031)
    );

    let second = make_certificate_until(&dir, 2032);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    let both = [first, second];
    while expiry_metric(server.addr, &both) != Some(END_2032) {
        assert!(
            Instant::now() < deadline,
            "the expiry metric did not follow the reload: {:?}",
            expiry_metric(server.addr, &both)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_broken_certificate_file_is_refused_at_start() {
    let dir = temp_dir("https");
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    std::fs::write(dir.join("relais.toml"), tls_config(&dir)).unwrap();
    let output = std::process::Command::new(relais_e2e::relais_bin())
        .args(["serve", "--config"])
        .arg(dir.join("relais.toml"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("cert.pem"), "{err}");
}
