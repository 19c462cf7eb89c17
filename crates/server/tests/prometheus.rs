//! A real Prometheus (the Debian `prometheus` package) scrapes a running server with the
//! project's alerting rules loaded: the series the rules and the dashboard use are queryable
//! with the values of what happens on the server, every rule evaluates without error, and the
//! alert on an open queue nobody can take is pending for the queue that has no agent; every
//! query of the Grafana dashboard is valid and reads series the server exports.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::calls::answered_call;
use support::server::TestServer;

/// A Prometheus process, stopped when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus/relais-alerts.yml")
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second, with the project's rules.
    fn start(target: std::net::SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("relais-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: relais\n    static_configs:\n      - targets: ['{target}']\n",
                rules_file().display()
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start prometheus ({err}): install it with scripts/setup.sh --test (Debian package `prometheus`)")
            });
        Self { child, port, dir }
    }

    /// `GET path` of the Prometheus HTTP API: the `data` of its JSON answer.
    async fn api(&self, path: &str) -> Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw);
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        let answer: Value = serde_json::from_str(body).unwrap();
        assert_eq!(answer["status"], "success", "{path}: {answer}");
        answer["data"].clone()
    }

    /// The samples of an instant query: `(labels, value)`.
    async fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        let data = self
            .api(&format!("/api/v1/query?query={}", encode(promql)))
            .await;
        data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap().parse().unwrap();
                (s["metric"].clone(), value)
            })
            .collect()
    }

    /// Waits until `promql` gives one sample and `wanted` holds for its value.
    async fn value_where(&self, promql: &str, wanted: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = Vec::new();
        while Instant::now() < deadline {
            if self.api_ready().await {
                last = self.query(promql).await;
                if let [(_, value)] = last.as_slice()
                    && wanted(*value)
                {
                    return *value;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{promql}: never the wanted value; last {last:?}");
    }

    /// Whether the HTTP API answers yet.
    async fn api_ready(&self) -> bool {
        tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_ok()
    }
}

/// Percent-encodes a query string value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_what_the_rules_and_the_dashboard_use_and_evaluates_every_rule() {
    let server = TestServer::start_with("prometheus", |config| {
        config.services[0].service_level_target = 0.9;
        // An open queue that nobody signed in can take.
        let mut cpam = config.services[0].clone();
        cpam.id = "cpam".into();
        cpam.name = "CPAM".into();
        cpam.skills[0].skill = "cpam".into();
        config.services.push(cpam);
    })
    .await;
    // One call answered and ended: its outcome is counted, its agent back after wrap-up.
    let (mut agent, _kiosk, _call) = answered_call(&server, "marie", "borne-1").await;
    let hung_up = agent.request(serde_json::json!({"type": "hangup"})).await;
    assert_eq!(hung_up["type"], "ok", "{hung_up}");
    let prometheus = Prometheus::start(server.addr);

    assert_eq!(
        prometheus
            .value_where("up{job=\"relais\"}", |v| v == 1.0)
            .await,
        1.0
    );
    let open = |queue: &str| format!("relais_queue_open{{queue=\"{queue}\"}}");
    assert_eq!(
        prometheus.value_where(&open("caf"), |v| v == 1.0).await,
        1.0
    );
    assert_eq!(
        prometheus.value_where(&open("nuit"), |v| v == 0.0).await,
        0.0
    );
    assert_eq!(
        prometheus.value_where(&open("cpam"), |v| v == 1.0).await,
        1.0
    );
    prometheus
        .value_where(
            "sum(relais_queue_agents{queue=\"caf\",state!=\"not_ready\"})",
            |v| v == 1.0,
        )
        .await;
    prometheus
        .value_where("sum(relais_calls_total{queue=\"caf\"})", |v| v == 1.0)
        .await;
    prometheus
        .value_where("sum(relais_queue_agents{queue=\"cpam\"})", |v| v == 0.0)
        .await;
    prometheus
        .value_where(
            "relais_queue_service_level_target_ratio{queue=\"caf\"}",
            |v| (v - 0.9).abs() < 1e-9,
        )
        .await;
    prometheus
        .value_where(
            "relais_queue_service_level_ratio{queue=\"caf\",window=\"recent\"}",
            |v| v == 1.0,
        )
        .await;
    prometheus
        .value_where(
            "relais_queue_offered_calls{queue=\"caf\",window=\"today\"}",
            |v| v == 1.0,
        )
        .await;
    prometheus
        .value_where("relais_ws_sessions{role=\"agent\"}", |v| v == 1.0)
        .await;
    prometheus
        .value_where("relais_store_healthy", |v| v == 1.0)
        .await;
    prometheus
        .value_where("sum(relais_media_receive_overflow_total)", |v| v == 0.0)
        .await;
    // Without [tls] there is no certificate to watch: no series, so no alert.
    assert!(
        prometheus
            .query("relais_tls_certificate_expiry_timestamp_seconds")
            .await
            .is_empty()
    );

    // Every rule of the file is loaded and evaluated against these series without error, and
    // the unstaffed-queue alert is pending (it fires after 5 min) for cpam alone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let groups = prometheus.api("/api/v1/rules").await["groups"].clone();
        let rules: Vec<Value> = groups
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .collect();
        let evaluated = rules
            .iter()
            .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z");
        let pending: Vec<String> = rules
            .iter()
            .filter(|r| r["name"] == "RelaisQueueUnstaffed")
            .flat_map(|r| r["alerts"].as_array().unwrap().clone())
            .map(|a| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                format!("{}:{}", text(&a["labels"]["queue"]), text(&a["state"]))
            })
            .collect();
        if rules.len() == 11 && evaluated && pending == ["cpam:pending"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rules not all evaluated, or the wrong alerts: {} rules, pending {pending:?}: {groups}",
            rules.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The Grafana dashboard: every query is valid PromQL for this Prometheus, and every series
    // it reads is one the server exports.
    let exported = server.get("/metrics", None).await;
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/relais.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut queries = vec![
        dashboard["templating"]["list"][0]["definition"]
            .as_str()
            .unwrap()
            .replace(
                "label_values(relais_build_info, instance)",
                "relais_build_info",
            ),
    ];
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(queries.len() > 20, "{} queries", queries.len());
    for query in &queries {
        let promql = query
            .replace("$instance", ".*")
            .replace("$__rate_interval", "1m");
        prometheus.query(&promql).await;
        for name in metric_names(&promql) {
            // The certificate's series exists only when the server serves HTTPS itself.
            if name == "relais_tls_certificate_expiry_timestamp_seconds" {
                continue;
            }
            assert!(
                exported.contains(&format!("\n{name}{{"))
                    || exported.contains(&format!("\n{name} ")),
                "the dashboard reads {name}, which the server does not export ({query})"
            );
        }
    }
}

/// The `relais_…` metric names a query reads.
fn metric_names(promql: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = promql;
    while let Some(at) = rest.find("relais_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// Runs `promtool` with `args` in the rules' directory; fails the test with its output.
fn promtool(args: &[&str]) -> String {
    let dir = rules_file().parent().unwrap().to_owned();
    let output = Command::new("promtool")
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run promtool ({err}): install it with scripts/setup.sh --test (Debian package `prometheus`)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_alerting_rules_pass_promtool_check_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "relais-alerts.yml"]);
    assert!(checked.contains("SUCCESS: 11 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "relais-alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}
