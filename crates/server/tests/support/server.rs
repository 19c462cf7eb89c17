//! The real server started in-process on ephemeral ports, with a test configuration, a known
//! token secret and its own data directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use relais::Config;
use relais::auth::{Claims, TokenKey};
use relais_proto::Role;
use tokio::sync::oneshot;

pub const SECRET: &str = "test-secret-for-the-call-flow-tests";

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The running server's state (its media shards, its call task).
    pub state: relais::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    key: TokenKey,
}

/// Services of the tests: `caf` always open (2 s to accept, 1 s of wrap-up) and `nuit`
/// never open.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let text = format!(
        r#"
data_dir = "{}"
[http]
listen = "127.0.0.1:0"
[auth]
secret = "{SECRET}"
development = false
[media]
shards = 1
port = 0
# Media negotiated at the answer, as most of these tests drive it; the wait with media has
# its own tests (waiting.rs), which turn it on.
[waiting]
media = false
[[services]]
id = "caf"
name = "CAF"
offer_timeout_secs = 2
wrap_up_secs = 1
max_waiting = 3
[[services.skills]]
skill = "caf"
[[services]]
id = "nuit"
name = "Service de nuit"
[services.hours]
"#,
        data_dir.display()
    );
    Config::from_toml_with_env(&text, "test", Vec::new()).unwrap()
}

impl TestServer {
    pub async fn start(tag: &str) -> Self {
        Self::start_with(tag, |_| {}).await
    }

    /// A server whose test configuration `edit` changed first.
    pub async fn start_with(tag: &str, edit: impl FnOnce(&mut Config)) -> Self {
        let data_dir =
            std::env::temp_dir().join(format!("relais-flow-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut config = test_config(&data_dir);
        edit(&mut config);
        let server = relais::Server::bind(config).await.unwrap();
        let addr = server.local_addr();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            data_dir,
            state,
            stop: Some(stop),
            key: TokenKey::new(SECRET.as_bytes()),
        }
    }

    /// A token for `role`/`sub` valid for an hour.
    pub fn token(&self, role: Role, sub: &str) -> String {
        self.token_with(Claims {
            dev: None,
            role,
            sub: sub.to_owned(),
            exp: relais::auth::now_secs() + 3600,
            site: (role == Role::Kiosk).then(|| "mairie-test".to_owned()),
            skills: if role == Role::Agent {
                vec![("caf".to_owned(), 3)]
            } else {
                vec![]
            },
            services: None,
            name: None,
        })
    }

    pub fn token_with(&self, claims: Claims) -> String {
        self.key.sign(&claims)
    }

    /// The store file of the server (opened separately by the tests).
    pub fn store(&self) -> relais_store::Store {
        relais_store::Store::open(&self.data_dir.join("relais.sqlite3")).unwrap()
    }

    /// The stored record of `call`, if there is one yet.
    pub fn record(&self, call: u64) -> Option<relais_store::CallRecord> {
        self.store()
            .calls_between(0, i64::MAX)
            .unwrap()
            .into_iter()
            .find(|r| r.call_id == call)
    }

    /// `GET path` over plain HTTP/1.1 (with a bearer token if given): the raw response.
    pub async fn get(&self, path: &str, token: Option<String>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// `method path` with `body` over plain HTTP/1.1 (with a bearer token if given): the
    /// status, the header block and the body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("Authorization", a))
            .into_iter()
            .collect();
        self.http_with(method, path, &headers, body).await
    }

    /// `method path` with these extra headers (a cookie, an origin, a content type) and
    /// `body`: the status, the header block and the body.
    pub async fn http_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // A server that refuses early may close before the whole body is written.
        let _ = stream.write_all(body).await;
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response header");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = unchunk(&body);
        }
        (status, head, body)
    }

    /// Waits until the Prometheus sample `series` (name and labels as rendered) satisfies
    /// `wanted`; returns the whole `/metrics` text then.
    pub async fn metrics_where(&self, series: &str, wanted: impl Fn(f64) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.get("/metrics", None).await;
            if metric(&last, series).is_some_and(&wanted) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{series} never reached the wanted value; last /metrics:\n{last}");
    }

    /// Waits until `read` finds what it wants in the store.
    pub async fn stored<T>(&self, read: impl Fn(&relais_store::Store) -> Option<T>) -> T {
        let store = self.store();
        for _ in 0..100 {
            if let Some(found) = read(&store) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the store never held what the test waited for");
    }

    /// Waits for the record of `call` that satisfies `wanted`.
    pub async fn record_where(
        &self,
        call: u64,
        wanted: impl Fn(&relais_store::CallRecord) -> bool,
    ) -> relais_store::CallRecord {
        self.stored(|store| {
            store
                .calls_between(0, i64::MAX)
                .ok()?
                .into_iter()
                .find(|r| r.call_id == call && wanted(r))
        })
        .await
    }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..line_end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
    out
}

/// The value of the Prometheus sample `series` (name and labels exactly as rendered).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
