//! Documents across a call through the real server: files posted over HTTP, their type found
//! from their content, pushed to the other side, read only by the call's parties, gone after
//! the call unless the agent keeps them, and then read back from the history.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais_proto::Role;
use serde_json::{Value, json};
use support::calls::answered_call;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 3000));
    bytes.extend(b"\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    bytes
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(body)))
}

async fn start(tag: &str) -> TestServer {
    TestServer::start_with(tag, |config| {
        config.documents.max_bytes = 64 * 1024;
        config.services[0].wrap_up_secs = 30;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_of_the_agent_reaches_the_kiosk_and_nobody_else() {
    let server = start("doc-pdf").await;
    let (_agent, mut kiosk, call) = answered_call(&server, "ana", "borne-1").await;
    let agent_token = server.token(Role::Agent, "ana");
    let path = format!("/api/calls/{call}/documents?name=attestation%20CAF.pdf");
    let (status, _, body) = server.http("POST", &path, Some(&agent_token), &pdf()).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let sent = json_of(&body);
    assert_eq!(sent["media_type"], "application/pdf");
    assert_eq!(sent["name"], "attestation CAF.pdf");
    assert_eq!(sent["from"], "agent");
    assert_eq!(sent["size"], pdf().len());

    let pushed = kiosk.expect("document", WAIT).await;
    assert_eq!(pushed["call"], call);
    assert_eq!(pushed["document"], sent);
    let id = sent["id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "128 random bits");

    let kiosk_token = server.token(Role::Kiosk, "borne-1");
    let (status, head, body) = server
        .http(
            "GET",
            &format!("/api/documents/{id}"),
            Some(&kiosk_token),
            b"",
        )
        .await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, pdf());
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("cache-control: private, no-store"), "{head}");
    assert!(
        head.contains("filename*=utf-8''attestation%20caf.pdf"),
        "{head}"
    );

    for (token, wanted) in [
        (Some(server.token(Role::Kiosk, "borne-2")), 404),
        (Some(server.token(Role::Agent, "bo")), 404),
        (Some(server.token(Role::Supervisor, "sophie")), 403),
        (None, 401),
        (Some("not-a-token".to_owned()), 401),
    ] {
        let (status, _, _) = server
            .http(
                "GET",
                &format!("/api/documents/{id}"),
                token.as_deref(),
                b"",
            )
            .await;
        assert_eq!(status, wanted, "{token:?}");
    }
    let (status, _, _) = server
        .http("GET", "/api/documents/0123", Some(&kiosk_token), b"")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_what_it_claims_or_too_large_or_for_another_call_is_refused() {
    let server = start("doc-refused").await;
    let (_agent, mut kiosk, call) = answered_call(&server, "ana", "borne-1").await;
    let ana = server.token(Role::Agent, "ana");
    let path = format!("/api/calls/{call}/documents?name=facture.pdf");
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"MZ\x90\x00\x03 a program".to_vec(),
            415,
            "unsupported_type",
        ),
        (
            b"<html><script>alert(1)</script></html>".to_vec(),
            415,
            "unsupported_type",
        ),
        (
            b"%PDF-1.7 cut in the middle".to_vec(),
            415,
            "unsupported_type",
        ),
        (Vec::new(), 415, "unsupported_type"),
        (
            {
                let mut big = pdf();
                big.splice(10..10, std::iter::repeat_n(b'y', 70 * 1024));
                big
            },
            413,
            "too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, _, answer) = server.http("POST", &path, Some(&ana), &body).await;
        assert_eq!(got, status, "{}", String::from_utf8_lossy(&answer));
        assert_eq!(json_of(&answer)["error"], code);
    }
    // Not this agent's call, no call at all, a supervisor, a still from an agent.
    let bo = server.token(Role::Agent, "bo");
    let (status, _, answer) = server.http("POST", &path, Some(&bo), &pdf()).await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&answer));
    let (status, _, _) = server
        .http("POST", "/api/calls/999999/documents", Some(&ana), &pdf())
        .await;
    assert_eq!(status, 409);
    let sup = server.token(Role::Supervisor, "sophie");
    let (status, _, _) = server.http("POST", &path, Some(&sup), &pdf()).await;
    assert_eq!(status, 403);
    let (status, _, _) = server
        .http(
            "POST",
            &format!("/api/calls/{call}/documents?snapshot=true"),
            Some(&ana),
            &png(10, 10),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        !kiosk.sees("document", Duration::from_millis(300)).await,
        "nothing refused reaches the kiosk"
    );
    assert_eq!(
        server.state.documents().held(),
        (0, 0),
        "nothing refused is held"
    );
    // The call goes on.
    let (status, _, _) = server.http("POST", &path, Some(&ana), &pdf()).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_is_for_the_agent_who_keeps_it_and_the_rest_goes_after_the_wrap_up() {
    let server = start("doc-still").await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "ana", "borne-1").await;
    let asked = agent.request(json!({"type": "request_snapshot"})).await;
    assert_eq!(asked["type"], "ok", "{asked}");
    let request = kiosk.expect("snapshot_requested", WAIT).await;
    assert_eq!(request["call"], call);
    let borne = server.token(Role::Kiosk, "borne-1");
    let (status, _, body) = server
        .http(
            "POST",
            &format!("/api/calls/{call}/documents?snapshot=true&name=photo.png"),
            Some(&borne),
            &png(1920, 1080),
        )
        .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let still = agent.expect("document", WAIT).await["document"].clone();
    assert_eq!(still["snapshot"], true);
    assert_eq!(still["from"], "kiosk");
    assert_eq!(
        (still["width"].as_u64(), still["height"].as_u64()),
        (Some(1920), Some(1080))
    );
    let kept_id = still["id"].as_str().unwrap().to_owned();
    // A second file, from the kiosk's USB key, that the agent does not keep.
    let (status, _, body) = server
        .http(
            "POST",
            &format!("/api/calls/{call}/documents?name=avis.pdf"),
            Some(&borne),
            &pdf(),
        )
        .await;
    assert_eq!(status, 201);
    let dropped_id = json_of(&body)["id"].as_str().unwrap().to_owned();
    agent.expect("document", WAIT).await;

    let ana = server.token(Role::Agent, "ana");
    let (status, _, _) = server
        .http(
            "POST",
            &format!("/api/documents/{kept_id}/keep"),
            Some(&borne),
            b"",
        )
        .await;
    assert_eq!(status, 403, "a kiosk keeps nothing");
    let (status, _, body) = server
        .http(
            "POST",
            &format!("/api/documents/{kept_id}/keep"),
            Some(&ana),
            b"",
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["attached"], true);

    let hung = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hung["type"], "ok");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "wrap_up")
        .await;
    let read = |id: String, token: String| {
        let server = &server;
        async move {
            server
                .http("GET", &format!("/api/documents/{id}"), Some(&token), b"")
                .await
                .0
        }
    };
    assert_eq!(
        read(dropped_id.clone(), borne.clone()).await,
        404,
        "the kiosk's call ended"
    );
    assert_eq!(
        read(dropped_id.clone(), ana.clone()).await,
        200,
        "the agent wraps up"
    );
    let done = agent.request(json!({"type": "wrap_up_done"})).await;
    assert_eq!(done["type"], "ok", "{done}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "available")
        .await;
    assert_eq!(read(dropped_id, ana.clone()).await, 404, "not kept: gone");
    assert_eq!(server.state.documents().held(), (0, 0));
    let (status, head, body) = server
        .http("GET", &format!("/api/documents/{kept_id}"), Some(&ana), b"")
        .await;
    assert_eq!(status, 200, "kept: read from the store");
    assert_eq!(body, png(1920, 1080));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: image/png")
    );
    assert_eq!(
        read(kept_id.clone(), server.token(Role::Agent, "bo")).await,
        404
    );

    let calls = agent.request(json!({"type": "my_calls"})).await;
    let row = &calls["result"]["calls"][0];
    assert_eq!(row["call"], call);
    assert_eq!(row["documents"].as_array().unwrap().len(), 1, "{row}");
    assert_eq!(row["documents"][0]["id"], kept_id.as_str());
    assert_eq!(row["documents"][0]["attached"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_kiosk_files_follow_the_rules() {
    let server = TestServer::start_with("doc-link", |config| {
        config.documents.kiosk_uploads = false;
    })
    .await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "ana", "borne-1").await;
    let mut other = WsClient::connect(server.addr).await;
    let welcome = other
        .request(
            json!({"type": "hello", "protocol": 1, "token": server.token(Role::Kiosk, "borne-9")}),
        )
        .await;
    let policy = &welcome["result"]["documents"];
    assert_eq!(policy["kiosk_uploads"], false, "{welcome}");
    assert_eq!(policy["max_bytes"], 10 * 1024 * 1024);
    assert_eq!(
        policy["media_types"],
        json!(["application/pdf", "image/jpeg", "image/png"])
    );
    let shared = agent
        .request(json!({"type": "share_link", "url": "https://www.caf.fr/allocataires", "title": "Mon compte CAF"}))
        .await;
    assert_eq!(shared["type"], "ok", "{shared}");
    assert_eq!(shared["result"]["kind"], "document");
    let at_kiosk = kiosk.expect("document", WAIT).await;
    assert_eq!(at_kiosk["call"], call);
    assert_eq!(at_kiosk["document"], shared["result"]["document"]);
    assert_eq!(
        at_kiosk["document"]["url"],
        "https://www.caf.fr/allocataires"
    );
    assert_eq!(at_kiosk["document"]["name"], "Mon compte CAF");
    let bad = agent
        .request(json!({"type": "share_link", "url": "javascript:alert(1)"}))
        .await;
    assert_eq!(bad["type"], "error");
    assert_eq!(bad["code"], "wrong_state");
    let from_kiosk = kiosk
        .request(json!({"type": "share_link", "url": "https://exemple.fr"}))
        .await;
    assert_eq!(from_kiosk["code"], "forbidden");
    let too_long = agent
        .request(json!({"type": "share_link", "url": format!("https://exemple.fr/{}", "a".repeat(3000))}))
        .await;
    assert_eq!(too_long["code"], "bad_request");

    let borne = server.token(Role::Kiosk, "borne-1");
    let (status, _, _) = server
        .http(
            "POST",
            &format!("/api/calls/{call}/documents"),
            Some(&borne),
            &pdf(),
        )
        .await;
    assert_eq!(status, 403, "this server takes no files from kiosks");
    let (status, _, _) = server
        .http(
            "POST",
            &format!("/api/calls/{call}/documents?snapshot=true"),
            Some(&borne),
            &png(640, 480),
        )
        .await;
    assert_eq!(status, 201, "a still the agent asked for still passes");
}
