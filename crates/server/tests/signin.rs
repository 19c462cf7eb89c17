//! Browser sign-in through the real server with a local account: the sign-in form gives an
//! HttpOnly session cookie, which opens `/ws` (the agent's skills from its profile reach the
//! dispatcher) and the REST API for the roles the account has, only from the server's own
//! origin; signing out ends the session and closes its websockets; a wrong password is refused
//! and five lock the account for a while; an expired or disabled session is refused.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use relais_proto::Role;
use serde_json::{Value, json};
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

fn account(server: &TestServer, username: &str, roles: &[&str], skills: &str) {
    let mut config = support::server::test_config(&server.data_dir);
    config.data_dir.clone_from(&server.data_dir);
    let said = relais::accounts::add(
        &config,
        relais::accounts::NewUser {
            username: username.into(),
            name: Some(format!("{username} (test)")),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            services: None,
            skills: skills.into(),
            teams: String::new(),
        },
        "un mot de passe assez long\n".as_bytes(),
    )
    .unwrap();
    assert!(said.contains(username), "{said}");
}

/// Posts the sign-in form; the status, the `Location` and the session cookie if one was set.
async fn sign_in(
    server: &TestServer,
    username: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    let body = format!(
        "username={username}&password={}&return=%2Fagent",
        password.replace(' ', "+")
    );
    let (status, head, _) = server
        .http_with(
            "POST",
            "/auth/local",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await;
    let header = |name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_owned())
    };
    let cookie = header("set-cookie").filter(|c| !c.contains("Max-Age=0"));
    if let Some(cookie) = &cookie {
        for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(part), "the cookie has {part}: {cookie}");
        }
    }
    (
        status,
        header("location").unwrap_or_default(),
        cookie.map(|c| c.split(';').next().unwrap().to_owned()),
    )
}

async fn get_json(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, _, body) = server.http_with("GET", path, headers, b"").await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn hello_with(
    server: &TestServer,
    headers: &[(&str, &str)],
    role: Option<&str>,
) -> (WsClient, Value) {
    let mut ws = WsClient::connect_with(server.addr, headers).await;
    let mut hello = json!({"type": "hello", "protocol": 1});
    if let Some(role) = role {
        hello["role"] = json!(role);
    }
    let reply = ws.request(hello).await;
    (ws, reply)
}

#[tokio::test]
async fn a_local_account_signs_in_and_its_cookie_opens_the_consoles_until_it_signs_out() {
    let server = TestServer::start("signin-local").await;
    account(&server, "marie", &["agent", "supervisor"], "caf:4");
    account(&server, "paul", &["agent"], "");

    // The page shows the form; a wrong password goes back to it with an error, no cookie.
    let page = server.get("/signin?return=/agent", None).await;
    assert!(
        page.contains("action=\"/auth/local\"") && page.contains("value=\"/agent\""),
        "{page}"
    );
    let (status, location, cookie) = sign_in(&server, "marie", "pas le bon mot de passe").await;
    assert_eq!((status, cookie), (303, None));
    assert!(location.starts_with("/signin?error=password"), "{location}");
    let (_, location, cookie) = sign_in(&server, "personne", "un mot de passe assez long").await;
    assert!(
        location.starts_with("/signin?error=password") && cookie.is_none(),
        "an unknown name is refused alike"
    );

    let (status, location, cookie) = sign_in(&server, "marie", "un mot de passe assez long").await;
    assert_eq!((status, location.as_str()), (303, "/agent"));
    let cookie = cookie.expect("a session cookie");
    let with_cookie = [("Cookie", cookie.as_str())];
    let (status, me) = get_json(&server, "/auth/session", &with_cookie).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["subject"], "marie");
    assert_eq!(me["roles"], json!(["agent", "supervisor"]));
    assert_eq!(me["method"], "local");
    assert_eq!(get_json(&server, "/auth/session", &[]).await.0, 401);

    // The cookie opens the websocket as an agent with the profile's skills: a call to `caf`
    // (which needs the skill) is offered to it.
    let (mut agent, welcome) = hello_with(&server, &with_cookie, None).await;
    assert_eq!(welcome["result"]["role"], "agent", "{welcome}");
    assert_eq!(welcome["result"]["subject"], "marie");
    let reply = agent
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "available")
        .await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-1")).await;
    let reply = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let offered = agent.expect("offered", WAIT).await;
    assert_eq!(offered["service"], "caf", "{offered}");
    let reply = kiosk.request(json!({"type": "cancel"})).await;
    assert_eq!(reply["type"], "ok", "{reply}");

    // The same session as a supervisor in another console; not as an administrator.
    let (mut wallboard, welcome) = hello_with(&server, &with_cookie, Some("supervisor")).await;
    assert_eq!(welcome["result"]["role"], "supervisor", "{welcome}");
    let (_, refused) = hello_with(&server, &with_cookie, Some("admin")).await;
    assert_eq!(refused["code"], "bad_token", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("no role admin"),
        "{refused}"
    );

    // Another site's page cannot use the cookie, on the websocket or the API.
    let foreign = [
        ("Cookie", cookie.as_str()),
        ("Origin", "https://evil.example"),
    ];
    let (_, refused) = hello_with(&server, &foreign, None).await;
    assert_eq!(refused["code"], "bad_token", "{refused}");
    assert_eq!(get_json(&server, "/api/calls", &foreign).await.0, 403);
    let own = [("Cookie", cookie.as_str()), ("Origin", "http://x")];
    assert_eq!(
        get_json(&server, "/api/calls", &own).await.0,
        200,
        "a supervisor reads the records"
    );
    let (status, _, _) = server
        .http_with(
            "POST",
            "/auth/logout",
            &[
                ("Cookie", cookie.as_str()),
                ("Origin", "https://evil.example"),
            ],
            b"",
        )
        .await;
    assert_eq!(status, 403, "nor sign it out");

    // An agent-only account may not read the records.
    let (_, _, paul) = sign_in(&server, "paul", "un mot de passe assez long").await;
    let paul = paul.unwrap();
    assert_eq!(
        get_json(&server, "/api/calls", &[("Cookie", paul.as_str())])
            .await
            .0,
        403
    );

    // An administrator sees who is signed in, and signs a person out everywhere.
    let admin = format!("Bearer {}", server.token(Role::Admin, "ines"));
    let (paul_ws, _) = hello_with(&server, &[("Cookie", paul.as_str())], None).await;
    let (status, list) = get_json(
        &server,
        "/api/admin/sessions",
        &[("Authorization", admin.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let connections = |who: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["subject"] == who)
            .map(|s| s["connections"].clone())
    };
    assert_eq!(connections("marie"), Some(json!(2)), "{list}");
    assert_eq!(connections("paul"), Some(json!(1)), "{list}");
    assert!(
        !list.to_string().contains(&paul["relais_session=".len()..]),
        "no cookie in the list"
    );
    let (status, _, body) = server
        .http_with(
            "DELETE",
            "/api/admin/sessions/paul",
            &[("Authorization", admin.as_str())],
            b"",
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let deadline = Instant::now() + WAIT;
    while !paul_ws.closed.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "paul's console closes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get_json(&server, "/auth/session", &[("Cookie", paul.as_str())])
            .await
            .0,
        401
    );
    let metrics = server.get("/metrics", None).await;
    let signins = |result: &str| {
        support::server::metric(
            &metrics,
            &format!("relais_signins_total{{method=\"local\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(
        (signins("ok"), signins("refused")),
        (Some(2.0), Some(2.0)),
        "sign-ins counted"
    );

    // Signing out: the session's websockets close, the agent is logged out, the cookie is
    // cleared and refused everywhere.
    let (status, head, body) = server
        .http_with("POST", "/auth/logout", &with_cookie, b"")
        .await;
    assert_eq!(status, 200);
    assert!(head.contains("Max-Age=0"), "{head}");
    let said: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(said["redirect"], "/signin?signed_out=1");
    let deadline = Instant::now() + WAIT;
    while !(agent.closed.load(Ordering::SeqCst) && wallboard.closed.load(Ordering::SeqCst)) {
        assert!(Instant::now() < deadline, "the session's websockets close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = wallboard.sees("kpis", Duration::ZERO).await;
    let logged_out = server
        .stored(|store| {
            store
                .last_agent_states()
                .ok()?
                .into_iter()
                .find(|s| s.agent == "marie" && s.state == "logged_out")
        })
        .await;
    assert_eq!(logged_out.agent, "marie");
    assert_eq!(
        get_json(&server, "/auth/session", &with_cookie).await.0,
        401
    );
    let (_, refused) = hello_with(&server, &with_cookie, None).await;
    assert_eq!(refused["code"], "bad_token", "{refused}");
    assert_eq!(get_json(&server, "/api/calls", &own).await.0, 401);
    assert!(
        server
            .store()
            .live_web_sessions(0)
            .unwrap()
            .iter()
            .all(|s| s.subject != "marie")
    );
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_and_expired_or_disabled_sessions_are_refused() {
    let server = TestServer::start("signin-refusals").await;
    account(&server, "lea", &["supervisor"], "");
    for _ in 0..5 {
        let (_, location, _) = sign_in(&server, "lea", "mauvais mot de passe").await;
        assert!(location.starts_with("/signin?error=password"), "{location}");
    }
    let (_, location, cookie) = sign_in(&server, "lea", "un mot de passe assez long").await;
    assert!(
        location.starts_with("/signin?error=locked") && cookie.is_none(),
        "{location}"
    );
    let page = server.get(&location, None).await;
    assert!(page.contains("Trop d'essais"), "{page}");

    // A session that ends in a moment: refused once it has.
    let person = relais::signin::Person {
        subject: "lea".into(),
        name: "Léa".into(),
        roles: vec![Role::Supervisor],
        services: None,
    };
    let until = jiff::Timestamp::now().as_millisecond() + 1500;
    let token = server
        .state
        .signin()
        .open_until(server.state.store(), person.clone(), "local", None, until)
        .await
        .unwrap();
    let cookie = format!("relais_session={token}");
    let with_cookie = [("Cookie", cookie.as_str())];
    let (open, welcome) = hello_with(&server, &with_cookie, None).await;
    assert_eq!(welcome["result"]["role"], "supervisor", "{welcome}");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let (_, refused) = hello_with(&server, &with_cookie, None).await;
    assert_eq!(refused["code"], "bad_token", "{refused}");
    assert_eq!(get_json(&server, "/api/calls", &with_cookie).await.0, 401);
    server.state.signin().sweep(server.state.hub(), None);
    let deadline = Instant::now() + WAIT;
    while !open.closed.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the expired session's websocket closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Disabled beside the running server (as `relais user disable` does): gone at the sweep.
    let token = server
        .state
        .signin()
        .open(server.state.store(), person, "local", None)
        .await
        .unwrap();
    let cookie = format!("relais_session={token}");
    let with_cookie = [("Cookie", cookie.as_str())];
    let (open, _) = hello_with(&server, &with_cookie, None).await;
    let mut config = support::server::test_config(&server.data_dir);
    config.data_dir.clone_from(&server.data_dir);
    relais::accounts::disable(&config, "lea").unwrap();
    let kept: std::collections::HashSet<String> = server
        .store()
        .live_web_sessions(0)
        .unwrap()
        .into_iter()
        .map(|s| s.session_hash)
        .collect();
    server.state.signin().sweep(server.state.hub(), Some(&kept));
    let deadline = Instant::now() + WAIT;
    while !open.closed.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the disabled account's websocket closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get_json(&server, "/auth/session", &with_cookie).await.0,
        401
    );
    let (_, location, _) = sign_in(&server, "lea", "un mot de passe assez long").await;
    assert!(
        location.starts_with("/signin?error="),
        "a disabled account cannot sign in: {location}"
    );
}

#[test]
fn relais_user_add_checks_what_it_is_given() {
    let dir = std::env::temp_dir().join(format!("relais-user-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = support::server::test_config(&dir);
    let user = |roles: &[&str], skills: &str| relais::accounts::NewUser {
        username: "marie".into(),
        name: None,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        services: Some("caf, cpam".into()),
        skills: skills.into(),
        teams: "nord".into(),
    };
    let long = "un mot de passe assez long\n".as_bytes();
    let err = relais::accounts::add(&config, user(&["chef"], ""), long).unwrap_err();
    assert!(err.to_string().contains("--role chef"), "{err}");
    let err =
        relais::accounts::add(&config, user(&["agent"], ""), "court\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("at least 10"), "{err}");
    let err = relais::accounts::add(&config, user(&["agent"], "caf:9"), long).unwrap_err();
    assert!(err.to_string().contains("--skills"), "{err}");
    relais::accounts::add(&config, user(&["agent,supervisor"], "caf:3"), long).unwrap();
    let listed = relais::accounts::show(&config).unwrap();
    assert_eq!(
        listed,
        "marie\tagent,supervisor\tcaf:3\tcaf,cpam\tenabled\n"
    );
    let store = relais_store::Store::open(&dir.join("relais.sqlite3")).unwrap();
    let stored = store.user("marie").unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(!stored.password_hash.contains("mot de passe"));
    assert_eq!(store.agent_profiles().unwrap()[0].teams, ["nord"]);
    assert!(relais::accounts::disable(&config, "nobody").is_err());
    let _ = std::fs::remove_dir_all(dir);
}
