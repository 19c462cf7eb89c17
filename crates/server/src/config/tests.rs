//! Configuration loading: precedence, defaults and the messages of rejected files.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_with_env(text, "test.toml", env(vars))
}

#[test]
fn no_file_gives_the_documented_defaults() {
    let config = Config::load_with_env(None, Vec::new()).unwrap();
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.data_dir, std::path::PathBuf::from("./data"));
    let ids: Vec<&str> = config.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["caf", "cpam", "impots", "ants"]);
    assert!(config.development(), "no secret: development mode");
    assert!(config.warnings().is_empty());
    assert!(!config.tls_enabled());
}

#[test]
fn file_overrides_defaults_and_environment_overrides_file() {
    let text =
        "data_dir = \"/srv/relais\"\n[http]\nlisten = \"127.0.0.1:9000\"\n[media]\nshards = 2\n";
    let from_file = load(text, &[]).unwrap();
    assert_eq!(from_file.http.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(from_file.media.shards, 2);
    assert_eq!(from_file.data_dir, std::path::PathBuf::from("/srv/relais"));
    // A key the file leaves out keeps its default.
    assert_eq!(from_file.http.shutdown_grace_secs, 10);

    let with_env = load(
        text,
        &[
            ("RELAIS_HTTP__LISTEN", "0.0.0.0:8443"),
            ("RELAIS_MEDIA__SHARDS", "4"),
            ("RELAIS_LOG__FORMAT", "json"),
            ("RELAIS_AUTH__SECRET", "1234567890123456789"),
            ("UNRELATED", "x"),
            ("RELAIS_CONFIG", "ignored.toml"),
        ],
    )
    .unwrap();
    assert_eq!(with_env.http.listen.to_string(), "0.0.0.0:8443");
    assert_eq!(with_env.media.shards, 4);
    assert_eq!(with_env.log.format, LogFormat::Json);
    // A string key keeps digits as text.
    assert_eq!(with_env.auth.secret.as_deref(), Some("1234567890123456789"));
    // What the environment does not touch stays as the file says.
    assert_eq!(with_env.data_dir, std::path::PathBuf::from("/srv/relais"));
}

#[test]
fn environment_overrides_apply_without_a_file() {
    let config = load(
        "",
        &[
            ("RELAIS_DATA_DIR", "/tmp/x"),
            ("RELAIS_MEDIA__PUBLIC_IPS", "[\"192.0.2.7\"]"),
        ],
    )
    .unwrap();
    assert_eq!(config.data_dir, std::path::PathBuf::from("/tmp/x"));
    assert_eq!(config.media.public_ips.len(), 1);
}

#[test]
fn unknown_key_is_rejected_with_its_name_and_line() {
    let err = load("[http]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("listen_port"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn unknown_section_is_rejected() {
    let err = load("[htpp]\nlisten = \"x\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("htpp"), "{err}");
}

#[test]
fn bad_value_is_rejected_with_its_line() {
    let err = load("[media]\nshards = \"many\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
    let err = load("[http]\nlisten = \"nowhere\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn unknown_environment_key_is_rejected_naming_the_variable() {
    let err = load("", &[("RELAIS_HTTP__LISTENING", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("RELAIS_HTTP__LISTENING"), "{err}");
    assert!(err.contains("listening"), "{err}");
    let err = load("", &[("RELAIS_MEDIA__SHARDS", "lots")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("RELAIS_MEDIA__SHARDS"), "{err}");
}

#[test]
fn malformed_opening_hours_are_rejected_at_their_line() {
    let text =
        "[[services]]\nid = \"x\"\nname = \"X\"\n[services.hours]\nmon = [\"17:00-08:00\"]\n";
    let err = load(text, &[]).unwrap_err().to_string();
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("ends before it starts"), "{err}");
    let text = "[[services]]\nid = \"x\"\nname = \"X\"\n[services.hours]\nmon = [\"8h-12h\"]\n";
    assert!(load(text, &[]).is_err());
}

#[test]
fn unknown_time_zone_is_rejected() {
    let text = "[[services]]\nid = \"x\"\nname = \"X\"\ntimezone = \"Europe/Atlantis\"\n";
    let err = load(text, &[]).unwrap_err().to_string();
    assert!(err.contains("Europe/Atlantis"), "{err}");
}

#[test]
fn cross_field_errors_name_the_key() {
    let dup = "[[services]]\nid = \"a\"\nname = \"A\"\n[[services]]\nid = \"a\"\nname = \"B\"\n";
    let err = load(dup, &[]).unwrap_err().to_string();
    assert!(err.contains("services[1].id"), "{err}");

    let overflow = "[[services]]\nid = \"a\"\nname = \"A\"\noverflow_to = \"zz\"\n";
    let err = load(overflow, &[]).unwrap_err().to_string();
    assert!(err.contains("services[0].overflow_to"), "{err}");

    let err = load("[tls]\ncert = \"c.pem\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("tls.key"), "{err}");

    let err = load("[auth]\ndevelopment = false\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("auth.secret"), "{err}");

    let skill = "[[services]]\nid = \"a\"\nname = \"A\"\n[[services.skills]]\nskill = \"a\"\nmin_proficiency = 9\n";
    let err = load(skill, &[]).unwrap_err().to_string();
    assert!(
        err.contains("services[0].skills[0].min_proficiency"),
        "{err}"
    );
}

#[test]
fn example_file_is_valid_and_round_trips() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/relais.example.toml"
    );
    let config = Config::load_with_env(Some(std::path::Path::new(path)), Vec::new()).unwrap();
    assert_eq!(config.services.len(), 3);
    assert!(config.services[2].interpreter && !config.services[0].interpreter);
    assert!(config.services[0].supervision.barge);
    assert!(config.supervision.notice.contains("écoutés"));
    let caf = &config.services[0];
    assert_eq!(caf.overflow_to.as_deref(), Some("cpam"));
    assert_eq!(caf.skills[0].relax, vec![(60, 2), (180, 1)]);
    let hours = caf.hours.as_ref().unwrap();
    assert_eq!(hours.mon.len(), 2);
    assert!(hours.sat.is_empty());
    // What check-config prints parses back to the same configuration.
    let printed = config.to_toml_redacted();
    let again = Config::from_toml_with_env(&printed, "printed", Vec::new()).unwrap();
    assert_eq!(again, config);
}

#[test]
fn printed_configuration_hides_the_secret() {
    let config = load("[auth]\nsecret = \"a-very-secret-value-123\"\n", &[]).unwrap();
    let printed = config.to_toml_redacted();
    assert!(!printed.contains("a-very-secret-value-123"));
    assert!(printed.contains("<redacted>"));
}

#[test]
fn a_configured_secret_turns_development_off_unless_asked_for() {
    let secret = "[auth]\nsecret = \"a-real-production-secret-0123\"\n";
    let config = load(secret, &[]).unwrap();
    assert!(
        !config.development(),
        "a real secret must not hand out demo tokens"
    );
    assert!(config.warnings().is_empty());

    let asked = load(&format!("{secret}development = true\n"), &[]).unwrap();
    assert!(asked.development());
    let warnings = asked.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("signed with that secret")),
        "{warnings:?}"
    );

    let public = load("[http]\nlisten = \"0.0.0.0:8080\"\n", &[]).unwrap();
    assert!(public.development());
    assert!(
        public.warnings().iter().any(|w| w.contains("non-loopback")),
        "{:?}",
        public.warnings()
    );
}

#[test]
fn unrelated_relais_variables_are_not_read_as_keys() {
    let config = load(
        "",
        &[
            ("RELAIS_BIN", "/usr/local/bin/relais"),
            ("RELAIS_HTTP__LISTEN", "127.0.0.1:9100"),
        ],
    )
    .unwrap();
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:9100");
    // A misspelt key inside a known section is still an error naming its variable.
    let err = load("", &[("RELAIS_HTTP__LISTN", "x")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("RELAIS_HTTP__LISTN"), "{err}");
}

#[test]
fn a_service_lists_its_wrap_up_codes_once_each() {
    let service = |codes: &str| {
        format!("[[services]]\nid = \"caf\"\nname = \"CAF\"\ndispositions = {codes}\n")
    };
    let config = load(&service("[\"rappel\", \"dossier\"]"), &[]).unwrap();
    assert_eq!(config.services[0].dispositions, ["rappel", "dossier"]);
    let defaults = load("[[services]]\nid = \"caf\"\nname = \"CAF\"\n", &[]).unwrap();
    assert_eq!(defaults.services[0].dispositions[0], "renseignement");
    let err = load(&service("[\"rappel\", \"rappel\"]"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("services[0].dispositions[1]") && err.contains("twice"),
        "{err}"
    );
    let err = load(&service("[\" \"]"), &[]).unwrap_err().to_string();
    assert!(err.contains("services[0].dispositions[0]"), "{err}");
}

#[test]
fn turn_urls_need_a_secret_and_a_host_and_the_secret_is_redacted() {
    let message = |text: &str| load(text, &[]).unwrap_err().to_string();
    assert!(
        message("[turn]\nurls = [\"turn:turn.example.fr:3478\"]\n")
            .contains("turn.secret is required")
    );
    assert!(
        message("[turn]\nurls = [\"http://turn.example.fr\"]\nsecret = \"0123456789abcdef\"\n")
            .contains("not a stun:, turn: or turns: URL")
    );
    assert!(
        message("[turn]\nurls = [\"turn:?transport=udp\"]\nsecret = \"0123456789abcdef\"\n")
            .contains("has no host")
    );
    assert!(
        message("[turn]\nurls = [\"turn:h:3478?transport=sctp\"]\nsecret = \"0123456789abcdef\"\n")
            .contains("transport=udp")
    );
    assert!(
        message("[turn]\nurls = [\"turn:h:3478\"]\nsecret = \"short\"\n")
            .contains("at least 16 characters")
    );
    assert!(message("[turn]\nttl_secs = 5\n").contains("turn.ttl_secs"));
    // STUN alone needs no secret.
    load("[turn]\nurls = [\"stun:stun.example.fr:3478\"]\n", &[]).unwrap();

    let config = load(
        "[turn]\nurls = [\"turns:turn.example.fr:443?transport=tcp\"]\n",
        &[("RELAIS_TURN__SECRET", "from-the-environment-0123")],
    )
    .unwrap();
    assert_eq!(
        config.turn.secret.as_deref(),
        Some("from-the-environment-0123")
    );
    assert_eq!(config.turn.ttl_secs, 6 * 3600);
    let shown = config.to_toml_redacted();
    assert!(!shown.contains("from-the-environment"), "{shown}");
    assert!(
        shown.contains("turns:turn.example.fr:443?transport=tcp"),
        "{shown}"
    );
}

#[test]
fn a_wildcard_media_bind_needs_an_advertised_address() {
    let err = load("[media]\nbind = \"0.0.0.0\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("media.bind = 0.0.0.0"), "{err}");
    assert!(err.contains("media.public_ips"), "{err}");
    let err = load("[media]\nbind = \"::\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("media.bind = ::"), "{err}");

    let advertised = load(
        "[media]\nbind = \"0.0.0.0\"\npublic_ips = [\"203.0.113.10\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(advertised.media.public_ips.len(), 1);
    let err = load(
        "[media]\nbind = \"0.0.0.0\"\npublic_ips = [\"0.0.0.0\"]\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("media.public_ips: 0.0.0.0"), "{err}");
}

#[test]
fn plain_http_off_loopback_and_loopback_media_are_warned_about() {
    let secret = "[auth]\nsecret = \"a-real-production-secret-0123\"\n";
    let lan = load(
        &format!("{secret}[http]\nlisten = \"192.0.2.5:8080\"\n[media]\nbind = \"192.0.2.5\"\n"),
        &[],
    )
    .unwrap();
    let warnings = lan.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("https://"), "{warnings:?}");

    let proxied = load(
        &format!(
            "{secret}[http]\nlisten = \"192.0.2.5:8080\"\npublic_url = \"https://relais.example.fr\"\n[media]\nbind = \"192.0.2.5\"\n"
        ),
        &[],
    )
    .unwrap();
    assert!(proxied.warnings().is_empty(), "{:?}", proxied.warnings());

    let local_media = load(
        &format!(
            "{secret}[http]\nlisten = \"192.0.2.5:8080\"\npublic_url = \"https://relais.example.fr\"\n"
        ),
        &[],
    )
    .unwrap();
    let warnings = local_media.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("media address is loopback (127.0.0.1)"),
        "{warnings:?}"
    );
}
