//! Kiosk enrolment through the real server: an administrator creates a kiosk and gets a
//! one-time pairing code; the code is exchanged once for a device credential that signs the
//! kiosk in and calls only its services; revoking the kiosk closes its connection and refuses
//! the credential; pairing again retires the earlier credential; each change is audited.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use relais_proto::Role;
use serde_json::{Value, json};
use support::server::TestServer;
use support::signal::WsClient;

async fn post(server: &TestServer, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let (status, _, body) = server
        .http("POST", path, token, body.to_string().as_bytes())
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn hello(server: &TestServer, token: &str) -> (WsClient, Value) {
    let mut client = WsClient::connect(server.addr).await;
    let reply = client
        .request(json!({"type": "hello", "protocol": 1, "token": token}))
        .await;
    (client, reply)
}

#[tokio::test]
async fn a_kiosk_is_enrolled_once_calls_its_services_and_is_revoked() {
    let server = TestServer::start("enrolment").await;
    let admin = server.token(Role::Admin, "ines");

    // Only an administrator creates kiosks, with a known service.
    let asked = json!({"kiosk": "borne-chambon", "site": "mairie-de-chambon", "services": ["caf"]});
    let agent = server.token(Role::Agent, "marie");
    let (status, _) = post(&server, "/api/admin/kiosks", Some(&agent), asked.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = post(&server, "/api/admin/kiosks", None, asked.clone()).await;
    assert_eq!(status, 401);
    let (status, body) = post(
        &server,
        "/api/admin/kiosks",
        Some(&admin),
        json!({"kiosk": "borne 1", "site": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &server,
        "/api/admin/kiosks",
        Some(&admin),
        json!({"kiosk": "borne-2", "site": "x", "services": ["nope"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("nope"), "{body}");

    let (status, issued) = post(&server, "/api/admin/kiosks", Some(&admin), asked.clone()).await;
    assert_eq!(status, 201, "{issued}");
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 11, "{code}");
    let (status, _) = post(&server, "/api/admin/kiosks", Some(&admin), asked.clone()).await;
    assert_eq!(status, 409, "the id is taken");

    // Garbage and wrong codes are refused clearly, without disturbing the right one.
    for bad in [
        json!({"code": "ZZZZZ-ZZZZZ"}),
        json!({"code": "?"}),
        json!({"kode": 1}),
    ] {
        let (status, body) = post(&server, "/api/kiosk/pair", None, bad).await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _, _) = server
        .http("POST", "/api/kiosk/pair", None, b"not json")
        .await;
    assert_eq!(status, 400);

    // The code, typed in lower case, gives a credential once.
    let (status, given) = post(
        &server,
        "/api/kiosk/pair",
        None,
        json!({"code": code.to_lowercase()}),
    )
    .await;
    assert_eq!(status, 200, "{given}");
    let credential = given["credential"].as_str().unwrap().to_owned();
    let in_29_days = (relais::auth::now_secs() + 29 * 86_400) * 1000;
    assert!(
        given["expires_at_ms"].as_i64().unwrap() > in_29_days,
        "{given}"
    );
    let (status, _) = post(&server, "/api/kiosk/pair", None, json!({"code": code})).await;
    assert_eq!(status, 400, "a code works once");

    // The credential signs the kiosk in; it sees and calls only its services.
    let (mut kiosk, reply) = hello(&server, &credential).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let services = kiosk.request(json!({"type": "list_services"})).await;
    let ids: Vec<&str> = services["result"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["caf"], "{services}");
    let refused = kiosk
        .request(json!({"type": "call", "service": "nuit"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // It says how its camera and microphone are; a field over its cap or another role is
    // refused.
    let status = json!({"type": "kiosk_status", "camera": "ok", "microphone": "refused", "browser": "Mozilla/5.0 Chrome/142.0.0.0"});
    let reply = kiosk.request(status.clone()).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let mut long = status.clone();
    long["browser"] = json!("x".repeat(513));
    assert_eq!(kiosk.request(long).await["code"], "bad_request");
    let mut odd = status.clone();
    odd["camera"] = json!("sideways");
    assert_eq!(kiosk.request(odd).await["type"], "error");
    let mut agent_ws = WsClient::signed_in(server.addr, &server.token(Role::Agent, "marie")).await;
    assert_eq!(agent_ws.request(status).await["code"], "forbidden");

    // Renewal gives a fresh credential; a machine token is not renewed.
    let (status, renewed) = post(&server, "/api/kiosk/renew", Some(&credential), json!({})).await;
    assert_eq!(status, 200, "{renewed}");
    let kiosk_token = server.token(Role::Kiosk, "borne-machine");
    let (status, _) = post(&server, "/api/kiosk/renew", Some(&kiosk_token), json!({})).await;
    assert_eq!(status, 403);

    // The list shows it online and last seen.
    let (status, _, listed) = server
        .http("GET", "/api/admin/kiosks", Some(&admin), b"")
        .await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_slice(&listed).unwrap();
    let row = &listed["kiosks"][0];
    assert_eq!(row["kiosk"], "borne-chambon", "{listed}");
    assert_eq!(row["online"], true, "{listed}");
    assert_eq!(row["devices"]["camera"], "ok", "{listed}");
    assert_eq!(row["devices"]["microphone"], "refused", "{listed}");
    assert_eq!(
        row["devices"]["browser"], "Mozilla/5.0 Chrome/142.0.0.0",
        "{listed}"
    );
    assert!(row["devices"]["at_ms"].is_i64(), "{listed}");
    assert!(
        row["paired_at_ms"].is_i64() && row["revoked_at_ms"].is_null(),
        "{listed}"
    );

    // Revoked: its connection is closed and neither credential signs in any more.
    let (status, body) = post(
        &server,
        "/api/admin/kiosks/borne-chambon/revoke",
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connections_closed"], 1, "{body}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !kiosk.closed.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the revoked kiosk's connection stays open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for old in [&credential, renewed["credential"].as_str().unwrap()] {
        let (_, reply) = hello(&server, old).await;
        assert_eq!(reply["code"], "bad_token", "{reply}");
        let (status, _) = post(&server, "/api/kiosk/renew", Some(old), json!({})).await;
        assert_eq!(status, 401);
    }
    let (status, _) = post(
        &server,
        "/api/admin/kiosks/nobody/revoke",
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);

    // A new code brings it back; the credential of the first pairing stays refused.
    let (status, again) = post(
        &server,
        "/api/admin/kiosks/borne-chambon/pairing",
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let (status, second) = post(
        &server,
        "/api/kiosk/pair",
        None,
        json!({"code": again["code"]}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let (_, reply) = hello(&server, second["credential"].as_str().unwrap()).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let (_, reply) = hello(&server, &credential).await;
    assert_eq!(reply["code"], "bad_token", "{reply}");

    // Every change is in the audit log.
    let actions: Vec<String> = server
        .stored(|store| {
            let entries = store.audit_between(0, i64::MAX).ok()?;
            (entries.len() >= 5).then_some(entries)
        })
        .await
        .into_iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.target))
        .collect();
    assert_eq!(
        actions,
        [
            "ines kiosk_created kiosk:borne-chambon",
            "borne-chambon kiosk_paired kiosk:borne-chambon",
            "ines kiosk_revoked kiosk:borne-chambon",
            "ines kiosk_pairing_code kiosk:borne-chambon",
            "borne-chambon kiosk_paired kiosk:borne-chambon",
        ]
    );
}

#[tokio::test]
async fn a_revocation_holds_after_a_restart() {
    let server = TestServer::start("enrolment-restart").await;
    let admin = server.token(Role::Admin, "ines");
    let (_, issued) = post(
        &server,
        "/api/admin/kiosks",
        Some(&admin),
        json!({"kiosk": "borne-x", "site": "mairie"}),
    )
    .await;
    let (_, given) = post(
        &server,
        "/api/kiosk/pair",
        None,
        json!({"code": issued["code"]}),
    )
    .await;
    let credential = given["credential"].as_str().unwrap().to_owned();
    post(
        &server,
        "/api/admin/kiosks/borne-x/revoke",
        Some(&admin),
        json!({}),
    )
    .await;
    let data_dir = server.data_dir.clone();
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The same data directory: the table of generations is read back from the store.
    let again = TestServer::start_with("enrolment-restart-2", |config| {
        config.data_dir = data_dir;
    })
    .await;
    let (_, reply) = hello(&again, &credential).await;
    assert_eq!(reply["code"], "bad_token", "{reply}");
}
