//! Helpers shared by the end-to-end tests: locating the real `relais` binary, starting it on a
//! free port with a configuration of the test's own, and plain HTTP requests against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The `relais` binary built from this workspace (`cargo build -p relais` must have run; the
/// README test command does it). `E2E_RELAIS_BIN` points elsewhere.
pub fn relais_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("E2E_RELAIS_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> → target/<profile>/relais
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join("relais");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p relais` before the end-to-end tests",
        bin.display()
    );
    bin
}

/// A fresh, empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let unique = format!(
        "relais-e2e-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(unique);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir can be created");
    dir
}

/// Environment variables that configure the server; removed so the host's cannot leak in.
fn scrub(command: &mut Command) {
    for (name, _) in std::env::vars() {
        if name.starts_with("RELAIS_") {
            command.env_remove(name);
        }
    }
}

/// A running `relais serve`, killed when dropped.
pub struct RunningServer {
    child: Child,
    /// The base URL the server printed.
    pub base_url: String,
    /// Its listening address.
    pub addr: SocketAddr,
    /// The directory holding its configuration and data.
    pub dir: PathBuf,
}

impl RunningServer {
    /// Starts the binary with `config_toml` (written to a file; `listen` should use port 0) and
    /// waits for its "listening on" line.
    pub fn start(tag: &str, config_toml: &str) -> Self {
        Self::start_in(temp_dir(tag), config_toml)
    }

    /// As [`RunningServer::start`], in a directory the test prepared.
    pub fn start_in(dir: PathBuf, config_toml: &str) -> Self {
        let config_path = dir.join("relais.toml");
        std::fs::write(&config_path, config_toml).expect("config file can be written");
        let mut command = Command::new(relais_bin());
        scrub(&mut command);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(&dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("relais starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let base_url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("relais did not print its listening address within 20 s");
            }
        };
        let addr = base_url
            .split("://")
            .nth(1)
            .and_then(|hostport| hostport.parse().ok())
            .expect("the banner names host:port");
        Self {
            child,
            base_url,
            addr,
            dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Parses a full `Connection: close` HTTP/1.1 response (no chunked bodies expected beyond
/// what this decodes).
pub fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a complete HTTP response");
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `GET path` over plain HTTP/1.1.
pub fn http_get(addr: SocketAddr, path: &str) -> Response {
    get_with_headers(addr, path, "")
}

/// `GET path` with `Authorization: Bearer <token>`.
pub fn http_get_with_bearer(addr: SocketAddr, path: &str, token: &str) -> Response {
    get_with_headers(addr, path, &format!("Authorization: Bearer {token}\r\n"))
}

fn get_with_headers(addr: SocketAddr, path: &str, headers: &str) -> Response {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout can be set");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response read");
    parse_response(&raw)
}
