//! The administrators' API through the real server: a service created with its hours is seen
//! by kiosks and takes calls without a restart, a change of hours closes it at once, a refused
//! change changes nothing, every change is audited and the services survive a restart; agents'
//! profiles give the skills of agents who sign in in the browser.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais_proto::Role;
use serde_json::{Value, json};
use support::calls::ready_agent;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

async fn put_toml(server: &TestServer, path: &str, token: &str, toml: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let (status, _, body) = server
        .http_with(
            "PUT",
            path,
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/toml"),
            ],
            toml.as_bytes(),
        )
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn open_services(kiosk: &mut WsClient) -> Vec<(String, bool)> {
    let reply = kiosk.request(json!({"type": "list_services"})).await;
    reply["result"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["open"].as_bool().unwrap(),
            )
        })
        .collect()
}

const MAIRIE: &str = r#"id = "mairie"
name = "Accueil de la mairie"
offer_timeout_secs = 5
"#;

#[tokio::test]
async fn a_service_created_by_an_administrator_takes_calls_at_once_and_closes_live() {
    let server = TestServer::start("admin-services").await;
    let admin = server.token(Role::Admin, "ines");
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-1")).await;
    assert!(
        !open_services(&mut kiosk)
            .await
            .iter()
            .any(|(id, _)| id == "mairie")
    );

    // Only an administrator, and only a valid service.
    let supervisor = server.token(Role::Supervisor, "sylvie");
    assert_eq!(
        put_toml(&server, "/api/admin/services/mairie", &supervisor, MAIRIE)
            .await
            .0,
        403
    );
    let (status, said) = put_toml(
        &server,
        "/api/admin/services/mairie",
        &admin,
        "id = \"mairie\"\nname = ",
    )
    .await;
    assert_eq!(status, 400, "{said}");
    assert!(said["message"].as_str().unwrap().contains("TOML"), "{said}");
    let (status, said) = put_toml(
        &server,
        "/api/admin/services/mairie",
        &admin,
        &format!("{MAIRIE}overflow_to = \"nowhere\"\n"),
    )
    .await;
    assert_eq!(status, 400, "an overflow to no service: {said}");
    let (status, said) = put_toml(&server, "/api/admin/services/autre", &admin, MAIRIE).await;
    assert_eq!(status, 400, "the path's id and the body's differ: {said}");
    assert!(
        !open_services(&mut kiosk)
            .await
            .iter()
            .any(|(id, _)| id == "mairie"),
        "nothing changed"
    );

    // Created: kiosks see it open and a call to it reaches an agent.
    let (status, said) = put_toml(&server, "/api/admin/services/mairie", &admin, MAIRIE).await;
    assert_eq!(
        (status, said["created"].as_bool()),
        (201, Some(true)),
        "{said}"
    );
    assert!(
        open_services(&mut kiosk)
            .await
            .contains(&("mairie".to_owned(), true))
    );
    let mut agent = ready_agent(&server, "alice").await;
    let reply = kiosk
        .request(json!({"type": "call", "service": "mairie"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let offered = agent.expect("offered", WAIT).await;
    assert_eq!(offered["service"], "mairie", "{offered}");
    let reply = kiosk.request(json!({"type": "cancel"})).await;
    assert_eq!(reply["type"], "ok", "{reply}");

    // Hours that leave it closed now: closed at once, and a call is refused as closed.
    let closed = format!("{MAIRIE}[hours]\n");
    let (status, said) = put_toml(&server, "/api/admin/services/mairie", &admin, &closed).await;
    assert_eq!(
        (status, said["created"].as_bool()),
        (200, Some(false)),
        "{said}"
    );
    assert!(
        open_services(&mut kiosk)
            .await
            .contains(&("mairie".to_owned(), false))
    );
    let refused = kiosk
        .request(json!({"type": "call", "service": "mairie"}))
        .await;
    assert_eq!(refused["code"], "service_closed", "{refused}");

    // The file's service changed too; the list says where each comes from.
    let (status, _, body) = server
        .http("GET", "/api/admin/services", Some(&admin), b"")
        .await;
    assert_eq!(status, 200);
    let list: Value = serde_json::from_slice(&body).unwrap();
    let source = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["source"].clone())
    };
    assert_eq!(source("caf"), Some(json!("file")));
    assert_eq!(source("mairie"), Some(json!("admin")));
    let mairie = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "mairie")
        .unwrap();
    assert_eq!(mairie["open"], false);
    assert!(
        mairie["toml"].as_str().unwrap().contains("[hours]"),
        "{mairie}"
    );

    // Every change is audited, with who and what.
    let (_, _, body) = server.http("GET", "/api/audit", Some(&admin), b"").await;
    let audit: Value = serde_json::from_slice(&body).unwrap();
    let saved: Vec<&Value> = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "service_saved" && e["target"] == "service:mairie")
        .collect();
    assert_eq!(saved.len(), 2, "{audit}");
    assert!(saved.iter().all(|e| e["actor"] == "ines"));

    // Deleted: gone for kiosks.
    let auth = format!("Bearer {admin}");
    let (status, _, _) = server
        .http_with(
            "DELETE",
            "/api/admin/services/nuit",
            &[("Authorization", auth.as_str())],
            b"",
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        !open_services(&mut kiosk)
            .await
            .iter()
            .any(|(id, _)| id == "nuit")
    );
    let (status, _, _) = server
        .http_with(
            "DELETE",
            "/api/admin/services/nuit",
            &[("Authorization", auth.as_str())],
            b"",
        )
        .await;
    assert_eq!(status, 404);

    // A restart serves the administrators' services.
    let data_dir = server.data_dir.clone();
    drop((kiosk, agent));
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = relais::Server::bind(support::server::test_config(&data_dir))
        .await
        .unwrap();
    let services = again.state().services();
    let ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["caf", "mairie"]);
    assert!(services[1].hours.is_some(), "the last version");
}

#[tokio::test]
async fn an_agent_profile_is_kept_checked_and_audited() {
    let server = TestServer::start("admin-agents").await;
    let admin = server.token(Role::Admin, "ines");
    let auth = format!("Bearer {admin}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = server
        .http_with(
            "PUT",
            "/api/admin/agents/marie",
            &headers,
            br#"{"skills": [["caf", 9]]}"#,
        )
        .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = server
        .http_with(
            "PUT",
            "/api/admin/agents/marie",
            &headers,
            br#"{"skills": [["caf", 4]], "teams": ["nord"]}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (_, _, body) = server
        .http("GET", "/api/admin/agents", Some(&admin), b"")
        .await;
    let list: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(list[0]["agent_id"], "marie");
    assert_eq!(list[0]["skills"], json!([["caf", 4]]));
    assert_eq!(list[0]["updated_by"], "ines");
    let stored = server.store().agent_profile("marie").unwrap().unwrap();
    assert_eq!(stored.teams, ["nord"]);
    let (status, _, _) = server
        .http_with("DELETE", "/api/admin/agents/marie", &headers, b"")
        .await;
    assert_eq!(status, 204);
    let (_, _, body) = server.http("GET", "/api/audit", Some(&admin), b"").await;
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("agent_profile_saved") && text.contains("agent_profile_deleted"),
        "{text}"
    );
}
