//! `relais doctor` against what a site has: a real coturn answering STUN on one port and
//! nothing on another, a writable data directory, free ports; it reports each and exits 1 when
//! a check fails.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use relais_e2e::{relais_bin, temp_dir};

/// coturn on 127.0.0.1:`port`, stopped when dropped.
struct Coturn(Child);

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_coturn(dir: &std::path::Path, port: u16) -> Coturn {
    let child = Command::new("turnserver")
        .args([
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            &format!("--listening-port={port}"),
            "--use-auth-secret",
            "--static-auth-secret=a-turn-secret-of-the-doctor-test",
            "--realm=relais.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--min-port=51000",
            "--max-port=51999",
            &format!("--pidfile={}", dir.join("turn.pid").display()),
            &format!("--userdb={}", dir.join("turndb").display()),
            "--log-file=stdout",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot start turnserver ({err}): scripts/setup.sh --test installs coturn")
        });
    Coturn(child)
}

fn doctor(config: &std::path::Path) -> (i32, String) {
    let output = Command::new(relais_bin())
        .args(["doctor", "--config"])
        .arg(config)
        .env_remove("RELAIS_CONFIG")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn doctor_reports_what_answers_and_fails_on_what_does_not() {
    let dir = temp_dir("doctor");
    let mut turn_port = free_udp_port();
    let dead_port = free_udp_port();
    let mut coturn = start_coturn(&dir, turn_port);
    let media_port = free_udp_port();
    let config = dir.join("relais.toml");
    let write = |urls: &str| {
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[media]\nshards = 1\nport = {media_port}\n[turn]\nurls = [{urls}]\nsecret = \"a-turn-secret-of-the-doctor-test\"\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
    };

    // coturn takes a moment to listen (longer on a loaded machine): the check is repeated until
    // it answers. A coturn that exited (its port taken meanwhile by another test) is started
    // again on another port.
    write(&format!("\"turn:127.0.0.1:{turn_port}?transport=udp\""));
    let deadline = Instant::now() + Duration::from_secs(30);
    let (code, out) = loop {
        let (code, out) = doctor(&config);
        if code == 0 || Instant::now() > deadline {
            break (code, out);
        }
        if matches!(coturn.0.try_wait(), Ok(Some(_))) {
            turn_port = free_udp_port();
            coturn = start_coturn(&dir, turn_port);
            write(&format!("\"turn:127.0.0.1:{turn_port}?transport=udp\""));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("ok   turn           turn:127.0.0.1:{turn_port}?transport=udp: 127.0.0.1:{turn_port} answered a STUN binding request")), "{out}");
    assert!(out.contains("is writable"), "{out}");
    assert!(
        out.contains(&format!(
            "ok   media          127.0.0.1:{media_port}-{media_port}/udp free"
        )),
        "{out}"
    );
    assert!(
        out.contains("warn media address  browsers are given 127.0.0.1"),
        "{out}"
    );
    assert!(out.contains("development mode"), "{out}");
    assert!(out.contains("0 failed"), "{out}");

    // A TURN server that does not answer fails the run, and says where.
    write(&format!(
        "\"turn:127.0.0.1:{turn_port}?transport=udp\", \"stun:127.0.0.1:{dead_port}\""
    ));
    let (code, out) = doctor(&config);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("FAIL turn           stun:127.0.0.1:{dead_port}: 127.0.0.1:{dead_port}: no answer within 2 s")), "{out}");
    assert!(out.contains("1 failed"), "{out}");

    // A media port taken by another program fails too.
    let taken = std::net::UdpSocket::bind(("127.0.0.1", media_port)).unwrap();
    let (code, out) = doctor(&config);
    assert_eq!(code, 1, "{out}");
    drop(taken);
    assert!(
        out.contains(&format!("FAIL media          ports [{media_port}]")),
        "{out}"
    );
}

#[test]
fn doctor_refuses_a_configuration_it_cannot_load() {
    let dir = temp_dir("doctor-bad");
    let config = dir.join("relais.toml");
    std::fs::write(&config, "[media]\nbind = \"0.0.0.0\"\n").unwrap();
    let (code, out) = doctor(&config);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("FAIL configuration") && out.contains("media.public_ips"),
        "{out}"
    );
}
