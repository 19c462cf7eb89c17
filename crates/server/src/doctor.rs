//! `relais doctor`: what a site needs, checked where it can be from this machine — the
//! configuration, the ports, the data directory, the certificate, the address browsers are
//! given for media, the kernel's socket buffers, and whether each STUN/TURN server answers.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, SystemTime};

use crate::config::Config;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One check: what was looked at and what was found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub verdict: Verdict,
    pub topic: String,
    pub detail: String,
}

fn finding(verdict: Verdict, topic: impl Into<String>, detail: impl Into<String>) -> Finding {
    Finding {
        verdict,
        topic: topic.into(),
        detail: detail.into(),
    }
}

/// How long a STUN server has to answer.
const STUN_WAIT: Duration = Duration::from_secs(2);
/// The socket buffer the media shards ask for.
const WANTED_BUFFER: u64 = 4 * 1024 * 1024;

/// Runs every check of `config`.
pub fn run(config: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    for warning in config.warnings() {
        out.push(finding(Verdict::Warn, "configuration", warning));
    }
    if config.development() {
        out.push(finding(
            Verdict::Warn,
            "configuration",
            "development mode: set auth.secret for a site in service",
        ));
    }
    let (http, running) = check_http(config);
    out.push(http);
    out.extend(check_media_ports(config, running));
    out.push(check_media_address(config));
    out.push(check_data_dir(config));
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        out.push(check_certificate(cert, key));
    } else if config
        .http
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        out.push(finding(
            Verdict::Ok,
            "tls",
            "terminated by a proxy in front (http.public_url is https://)",
        ));
    }
    out.push(check_buffers());
    for url in &config.turn.urls {
        out.push(check_ice_server(url));
    }
    if config.turn.urls.is_empty() {
        out.push(finding(
            Verdict::Warn,
            "turn",
            "no STUN/TURN server: kiosks behind a firewall that blocks UDP to the media ports cannot connect (see docs/deployment.md, Firewalls and TURN)",
        ));
    }
    out
}

/// The findings as text, one line each, and whether none failed.
pub fn report(findings: &[Finding]) -> (String, bool) {
    let mut text = String::new();
    for f in findings {
        let mark = match f.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        let _ = writeln!(text, "{mark} {:<14} {}", f.topic, f.detail);
    }
    let failed = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    let warned = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Warn)
        .count();
    let _ = writeln!(
        text,
        "{failed} failed, {warned} warnings, {} checks",
        findings.len()
    );
    (text, failed == 0)
}

/// The HTTP listener's address, and whether a server already runs there.
fn check_http(config: &Config) -> (Finding, bool) {
    let listen = config.http.listen;
    match std::net::TcpListener::bind(listen) {
        Ok(_) => (
            finding(
                Verdict::Ok,
                "http",
                format!("{listen} is free to listen on"),
            ),
            false,
        ),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            if answers_healthz(loopback_for(listen)) {
                (
                    finding(Verdict::Ok, "http", format!("{listen}: Relais runs there")),
                    true,
                )
            } else {
                (
                    finding(
                        Verdict::Fail,
                        "http",
                        format!("{listen} is in use by another program"),
                    ),
                    false,
                )
            }
        }
        Err(err) => (
            finding(
                Verdict::Fail,
                "http",
                format!("cannot listen on {listen}: {err}"),
            ),
            false,
        ),
    }
}

/// Whether `GET /healthz` at `addr` (plain HTTP) answers like Relais; a TLS listener counts
/// when it accepts the connection.
fn answers_healthz(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.starts_with("HTTP/1.1 200") && text.ends_with("ok\n")
        || (!answer.is_empty() && answer[0] == 0x15)
}

/// Where to reach a listener bound to `addr` from this machine.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        let ip = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    }
}

fn check_media_ports(config: &Config, running: bool) -> Vec<Finding> {
    let shards = if config.media.shards == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        config.media.shards
    };
    if config.media.port == 0 {
        return vec![finding(
            Verdict::Warn,
            "media",
            "media.port = 0: the ports change at each start and no firewall rule can name them",
        )];
    }
    let mut busy = Vec::new();
    let mut failed = Vec::new();
    for i in 0..shards {
        let Ok(port) = u16::try_from(usize::from(config.media.port) + i) else {
            break;
        };
        let at = SocketAddr::new(config.media.bind, port);
        match UdpSocket::bind(at) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => busy.push(port),
            Err(err) => failed.push(format!("{at}: {err}")),
        }
    }
    let last = usize::from(config.media.port) + shards - 1;
    let range = format!("{}:{}-{last}/udp", config.media.bind, config.media.port);
    let tcp = if config.media.ice_tcp {
        " (and the same TCP ports)"
    } else {
        ""
    };
    if !failed.is_empty() {
        return vec![finding(
            Verdict::Fail,
            "media",
            format!("cannot bind {}", failed.join("; ")),
        )];
    }
    if busy.len() == shards && running {
        return vec![finding(
            Verdict::Ok,
            "media",
            format!("{range} in use by the running server; open them in the firewall{tcp}"),
        )];
    }
    if !busy.is_empty() {
        return vec![finding(
            Verdict::Fail,
            "media",
            format!("ports {busy:?} of {range} are used by another program"),
        )];
    }
    vec![finding(
        Verdict::Ok,
        "media",
        format!("{range} free for {shards} shard(s); open them in the firewall{tcp}"),
    )]
}

fn check_media_address(config: &Config) -> Finding {
    let advertised: Vec<IpAddr> = if config.media.public_ips.is_empty() {
        vec![config.media.bind]
    } else {
        config.media.public_ips.clone()
    };
    let shown = advertised
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if advertised.iter().all(IpAddr::is_loopback) {
        return finding(
            Verdict::Warn,
            "media address",
            format!("browsers are given {shown}: only this machine can send media to it"),
        );
    }
    let private = advertised.iter().all(|ip| match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_unique_local() || v6.is_unicast_link_local(),
    });
    if private {
        return finding(
            Verdict::Warn,
            "media address",
            format!(
                "browsers are given {shown}, a private address: kiosks outside this network need it in media.public_ips behind a 1:1 NAT, or TURN"
            ),
        );
    }
    finding(
        Verdict::Ok,
        "media address",
        format!("browsers are given {shown}"),
    )
}

fn check_data_dir(config: &Config) -> Finding {
    let dir = &config.data_dir;
    if let Err(err) = std::fs::create_dir_all(dir) {
        return finding(
            Verdict::Fail,
            "data",
            format!("cannot create {}: {err}", dir.display()),
        );
    }
    let probe = dir.join(format!(".relais-doctor-{}", std::process::id()));
    let written = std::fs::write(&probe, b"probe");
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => finding(
            Verdict::Ok,
            "data",
            format!("{} is writable", dir.display()),
        ),
        Err(err) => finding(
            Verdict::Fail,
            "data",
            format!("cannot write in {}: {err}", dir.display()),
        ),
    }
}

fn check_certificate(cert: &std::path::Path, key: &std::path::Path) -> Finding {
    let loaded = match crate::tls::load_certified_key(cert, key) {
        Ok(loaded) => loaded,
        Err(err) => return finding(Verdict::Fail, "tls", err.to_string()),
    };
    let Some(expiry) = crate::tls::expiry(&loaded) else {
        return finding(
            Verdict::Warn,
            "tls",
            format!("{}: cannot read its expiry", cert.display()),
        );
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let days = (expiry - now) / 86_400;
    match days {
        d if expiry <= now => finding(
            Verdict::Fail,
            "tls",
            format!("{} expired {} days ago", cert.display(), -d),
        ),
        d if d < 14 => finding(
            Verdict::Warn,
            "tls",
            format!("{} expires in {d} days: renew it", cert.display()),
        ),
        d => finding(
            Verdict::Ok,
            "tls",
            format!("{} matches its key, valid {d} more days", cert.display()),
        ),
    }
}

fn check_buffers() -> Finding {
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    match (read("rmem_max"), read("wmem_max")) {
        (Some(r), Some(w)) if r >= WANTED_BUFFER && w >= WANTED_BUFFER => finding(
            Verdict::Ok,
            "kernel",
            format!("socket buffers up to {r}/{w} bytes"),
        ),
        (Some(r), Some(w)) => finding(
            Verdict::Warn,
            "kernel",
            format!(
                "net.core.rmem_max/wmem_max = {r}/{w}: a busy shard may lose datagrams; raise them to {WANTED_BUFFER} (docs/deployment.md, Ports)"
            ),
        ),
        _ => finding(
            Verdict::Warn,
            "kernel",
            "cannot read net.core.rmem_max/wmem_max",
        ),
    }
}

/// `stun:`/`turn:` over UDP: a STUN binding request must be answered; over TCP (`turns:`,
/// `?transport=tcp`): the port must accept a connection.
fn check_ice_server(url: &str) -> Finding {
    let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let default_port = if scheme == "turns" || scheme == "stuns" {
        5349
    } else {
        3478
    };
    let (host, port) = match hostport
        .rsplit_once(':')
        .map(|(h, p)| (h, p.parse::<u16>()))
    {
        Some((host, Ok(port))) => (host.trim_matches(['[', ']']), port),
        _ => (hostport.trim_matches(['[', ']']), default_port),
    };
    let addr = match (host, port).to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            return finding(
                Verdict::Fail,
                "turn",
                format!("{url}: cannot resolve {host}"),
            );
        }
    };
    let tcp = scheme == "turns" || scheme == "stuns" || query == "transport=tcp";
    if tcp {
        return match TcpStream::connect_timeout(&addr, STUN_WAIT) {
            Ok(_) => finding(Verdict::Ok, "turn", format!("{url}: {addr} accepts TCP")),
            Err(err) => finding(
                Verdict::Fail,
                "turn",
                format!("{url}: {addr} over TCP: {err}"),
            ),
        };
    }
    match stun_binding(addr) {
        Ok(rtt) => finding(
            Verdict::Ok,
            "turn",
            format!(
                "{url}: {addr} answered a STUN binding request in {} ms",
                rtt.as_millis()
            ),
        ),
        Err(why) => finding(Verdict::Fail, "turn", format!("{url}: {addr}: {why}")),
    }
}

/// Sends a STUN binding request (RFC 8489) and waits for the response of the same
/// transaction; the round trip.
fn stun_binding(addr: SocketAddr) -> Result<Duration, String> {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "no local address")?
    } else {
        "[::]:0".parse().map_err(|_| "no local address")?
    };
    let socket = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(STUN_WAIT))
        .map_err(|e| e.to_string())?;
    let mut transaction = [0u8; 12];
    use ring::rand::SecureRandom as _;
    ring::rand::SystemRandom::new()
        .fill(&mut transaction)
        .map_err(|_| "no random numbers")?;
    let mut request = Vec::with_capacity(20);
    request.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    request.extend_from_slice(&transaction);
    let sent = std::time::Instant::now();
    socket.send_to(&request, addr).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 1500];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .map_err(|_| format!("no answer within {} s", STUN_WAIT.as_secs()))?;
        let answer = &buf[..n];
        if from == addr
            && n >= 20
            && answer[0..2] == [0x01, 0x01]
            && answer[4..8] == [0x21, 0x12, 0xa4, 0x42]
            && answer[8..20] == transaction
        {
            return Ok(sent.elapsed());
        }
        if sent.elapsed() > STUN_WAIT {
            return Err("no matching answer".into());
        }
    }
}
