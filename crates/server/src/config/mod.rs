//! Server configuration: the typed settings, built-in defaults, loading from one TOML file with
//! `RELAIS_…` environment overrides, and validation with messages that name the offending key.

mod env;
mod service;
mod types;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use service::{
    RoutingStrategy, ServiceConfig, SkillRequirement, SupervisionPolicy, WeekHours,
    validate_services,
};
pub use types::{LocalDate, TimeRange, TimeZoneName};

/// Why a configuration was refused. The message names the file, line or variable and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// The whole configuration of a Relais server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for durable data (the SQLite call records, later the journal).
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub media: MediaConfig,
    pub limits: LimitsConfig,
    pub supervision: SupervisionConfig,
    pub recovery: RecoveryConfig,
    pub records: RecordsConfig,
    pub documents: DocumentsConfig,
    pub turn: TurnConfig,
    pub waiting: WaitingConfig,
    /// Sign-in of agents, supervisors and administrators through the organisation's OpenID
    /// Connect provider. Absent: local accounts only (`relais user add`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
    /// The services (queues) kiosks can call. Replaces the demo services when given.
    pub services: Vec<ServiceConfig>,
}

/// The HTTP listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port to listen on, for HTTP or (with `[tls]`) HTTPS.
    pub listen: SocketAddr,
    /// The address users reach the server at, when behind a reverse proxy (for printed links).
    pub public_url: Option<String>,
    /// Trust `X-Forwarded-For`/`Forwarded` from the peer (only behind your own reverse proxy).
    pub trust_forwarded_headers: bool,
    /// Seconds to let open requests finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's whole header (slow or silent clients are
    /// closed after it).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay silent both ways (keep-alive between requests, or a
    /// websocket whose pings went unanswered) before it is closed.
    pub idle_timeout_secs: u64,
    /// Connections open at once, in all; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one source address (behind a reverse proxy or a site's
    /// NAT, every client shares one: raise it there).
    pub max_connections_per_address: usize,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
}

/// Serving HTTPS directly. Both paths set: HTTPS; both absent: plain HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// How often to look for a changed certificate or key file, in seconds (0: only on SIGHUP).
    pub reload_check_secs: u64,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A filter in `tracing` syntax, e.g. `info` or `relais=debug,info`. `RUST_LOG` wins if set.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Who may connect, and how tokens are signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 secret for role tokens. Without one, the server runs in development mode with a
    /// generated secret kept in `<data_dir>/dev-secret`.
    pub secret: Option<String>,
    /// Development mode: demo tokens and console links printed at start and shown on `/`.
    /// Unset: on exactly when no `secret` is configured. `true` with a configured secret hands
    /// out tokens signed with that secret to anyone who reaches `/`: only for a closed test bed.
    pub development: Option<bool>,
    /// Lifetime of tokens minted by the server, in seconds.
    pub token_ttl_secs: u64,
    /// Lifetime of a browser's sign-in (OpenID Connect or local account), in hours: a working
    /// day by default, after which the person signs in again.
    pub session_hours: u64,
}

/// The organisation's OpenID Connect provider (Keycloak, Entra ID, the State's agent
/// federation…). Relais is a confidential client using the authorization-code flow with PKCE;
/// its redirect URI is `<http.public_url>/auth/callback`, to register at the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL; its `/.well-known/openid-configuration` is read at the first sign-in.
    pub issuer: String,
    pub client_id: String,
    /// The client secret, or `client_secret_file` naming a file that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that names the person in Relais (agent id, audit entries); the
    /// token's `sub` when the claim is missing.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// The claim holding the name shown to others.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// The claim whose values (a string or a list; a dotted path such as
    /// `realm_access.roles` reaches into objects) give the roles below.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Which values of `roles_claim` give which role.
    #[serde(default)]
    pub roles: OidcRoles,
    /// A claim listing the services a supervisor supervises; absent: every service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services_claim: Option<String>,
    /// A PEM file of CA certificates for the provider's HTTPS besides the system's (an
    /// administration's own PKI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The sign-in button's text.
    #[serde(default = "default_oidc_button")]
    pub button: String,
}

/// Values of the roles claim that give each role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcRoles {
    pub agent: Vec<String>,
    pub supervisor: Vec<String>,
    pub admin: Vec<String>,
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

fn default_subject_claim() -> String {
    "preferred_username".into()
}

fn default_name_claim() -> String {
    "name".into()
}

fn default_roles_claim() -> String {
    "groups".into()
}

fn default_oidc_button() -> String {
    "Se connecter avec le compte de l'organisation".into()
}

/// Supervision of calls (which modes each service allows is in its `supervision` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// Shown on kiosks before a call starts: calls may be listened to (French rules on
    /// listening to calls ask that callers be told). Empty: no notice.
    pub notice: String,
}

/// The default notice.
pub const SUPERVISION_NOTICE: &str =
    "Les appels peuvent être écoutés par un responsable afin d'améliorer la qualité du service.";

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            notice: SUPERVISION_NOTICE.to_owned(),
        }
    }
}

/// Stopping and starting again without losing calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// After a restart, seconds a kiosk whose call was waiting has to call the same service
    /// again and get that call back (its id and its place); then the call is recorded
    /// `interrupted`.
    pub grace_secs: u64,
    /// Seconds a kiosk whose websocket dropped (a network blink, a reloaded page) has to
    /// connect again and get its call back: at its place in the queue, or connected (the
    /// media goes on meanwhile and the agent is told). Then the call ends as if the kiosk had
    /// left. 0 ends it at once.
    pub resume_secs: u64,
    /// Seconds an agent whose websocket dropped during a call (a network blink, a reloaded
    /// console) has to sign in again and get the call back (the kiosk is told meanwhile); then
    /// the call goes back to the head of its queue. 0 sends it back at once.
    pub agent_resume_secs: u64,
    /// On SIGTERM, seconds calls in progress may go on before the server stops (no new call
    /// is taken meanwhile). 0, for a restart behind a load balancer, stops at once; longer for
    /// maintenance.
    pub drain_secs: u64,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            grace_secs: 60,
            resume_secs: 60,
            agent_resume_secs: 30,
            drain_secs: 0,
        }
    }
}

/// How long call records are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// Days call records (with their legs and chat), agent state changes and audit entries
    /// are kept; older ones are deleted by a daily task and by `relais purge`. 0 keeps them
    /// forever. The default, 180 days, follows French guidance on call data.
    pub retention_days: u32,
    /// Where records and journal entries go while the store refuses them and more than
    /// 200,000 wait in memory: one JSON line each, written to the store (and the file removed)
    /// when it takes writes again or at the next start. Put it on another disk than
    /// `data_dir` so that a full disk does not stop it. Default: `<data_dir>/relais.spill`.
    pub spill_path: Option<PathBuf>,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        Self {
            retention_days: 180,
            spill_path: None,
        }
    }
}

impl Config {
    /// The spill file of writes the store refused (see [`RecordsConfig::spill_path`]).
    pub fn spill_path(&self) -> PathBuf {
        self.records
            .spill_path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("relais.spill"))
    }
}

/// Files passed across a call (a PDF for the kiosk, a still of its camera, a file from a USB
/// key). They stay in memory for the call only, unless the agent keeps one with the call's
/// record (then it goes at the retention date).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentsConfig {
    /// The largest file, in bytes (a scanned page or a still is 0.2–3 MB).
    pub max_bytes: u64,
    /// Files held for one call at once.
    pub max_per_call: usize,
    /// Bytes held in memory for every call together; a file beyond is refused until calls end.
    pub memory_bytes: u64,
    /// Whether kiosks may send files (from a USB key) to the agent; a kiosk shows the button
    /// only where its own page allows it too (`#upload=1`).
    pub kiosk_uploads: bool,
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_per_call: 20,
            memory_bytes: 256 * 1024 * 1024,
            kiosk_uploads: true,
        }
    }
}

/// The STUN and TURN servers handed to browsers, for sites whose firewall lets no UDP reach
/// the media port. TURN credentials follow the TURN REST scheme that coturn checks with
/// `use-auth-secret` (`static-auth-secret` = `secret`): a username `expiry:subject` and its
/// HMAC-SHA1, valid for `ttl_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// `stun:`, `turn:` and `turns:` URLs, e.g. `turn:turn.example.fr:3478?transport=udp`,
    /// `turn:turn.example.fr:3478?transport=tcp` and `turns:turn.example.fr:443?transport=tcp`.
    pub urls: Vec<String>,
    /// The TURN server's shared secret (coturn's `static-auth-secret`); required with any
    /// `turn:` or `turns:` URL.
    pub secret: Option<String>,
    /// Seconds a credential stays valid; consoles ask for fresh ones after half of it.
    pub ttl_secs: u64,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            secret: None,
            ttl_secs: 6 * 3600,
        }
    }
}

/// The wait in a queue: the kiosk's media connected while it waits, hold audio, spoken
/// position and estimated wait, and the check of its camera and microphone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WaitingConfig {
    /// A kiosk connects its media as soon as its call is queued (the answer is then instant,
    /// and the server can play hold audio and check its camera and microphone). Off: media is
    /// negotiated when an agent answers.
    pub media: bool,
    /// The agent offered such a call connects its own media while the offer rings (it receives
    /// nothing and is received by nobody until it accepts): the pictures flow at the answer
    /// without a handshake.
    pub ring_media: bool,
    /// Hold audio for services that name none of their own: a WAV (PCM, any rate, mono or
    /// stereo) or Ogg/Opus file. Absent: a soft tone loop Relais makes itself.
    pub hold_audio: Option<PathBuf>,
    /// Play hold audio at all.
    pub hold: bool,
    /// Directory of the spoken prompts (`scripts/make-prompts.sh` makes the French set with
    /// espeak-ng). Absent, or a prompt missing: the position is only shown, not spoken.
    pub prompts_dir: Option<PathBuf>,
    /// Seconds between two spoken announcements of the position and estimated wait (a change
    /// of position is announced at once); 0 announces only changes.
    pub announce_secs: u64,
    /// Seconds of silence from the microphone, or of no picture from the camera, before the
    /// kiosk and the agent are warned.
    pub check_secs: u64,
}

impl Default for WaitingConfig {
    fn default() -> Self {
        Self {
            media: true,
            ring_media: true,
            hold_audio: None,
            hold: true,
            prompts_dir: None,
            announce_secs: 60,
            check_secs: 5,
        }
    }
}

/// What one identity may hold, so a single token cannot crowd out the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Websocket connections one kiosk identity (token subject) may hold at once.
    pub kiosk_connections: usize,
    /// Refused calls (closed service, full queue) one kiosk identity may get per minute; more
    /// `call`s in that minute get `rate_limited` and leave no record.
    pub call_refusals_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            kiosk_connections: 4,
            call_refusals_per_minute: 6,
        }
    }
}

/// The media shards (SFU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Number of media shards (one UDP port and one thread each); 0 means one per core.
    pub shards: usize,
    /// Address the shards' UDP sockets bind to.
    pub bind: IpAddr,
    /// UDP port of shard 0; shard `i` uses `port + i`.
    pub port: u16,
    /// Addresses advertised to peers as host candidates (1:1 NAT); empty means `bind`.
    pub public_ips: Vec<IpAddr>,
    /// Seconds without an authenticated packet from a peer before its media counts as lost
    /// (RFC 7675 consent freshness: 30 s).
    pub consent_timeout_secs: u64,
    /// Seconds a call waits for a leg whose media was lost (network blink, closed tab) to
    /// come back with a new offer before it ends with reason `media_lost`.
    pub lost_grace_secs: u64,
    /// Also listen on TCP at each shard's port number (ICE over TCP, passive, RFC 6544), so
    /// that a browser that may send no UDP but reaches this address over TCP connects without
    /// TURN. Open those TCP ports in the firewall too.
    pub ice_tcp: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            media: MediaConfig::default(),
            limits: LimitsConfig::default(),
            supervision: SupervisionConfig::default(),
            recovery: RecoveryConfig::default(),
            documents: DocumentsConfig::default(),
            records: RecordsConfig::default(),
            turn: TurnConfig::default(),
            waiting: WaitingConfig::default(),
            oidc: None,
            services: service::demo_services(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            public_url: None,
            trust_forwarded_headers: false,
            shutdown_grace_secs: 10,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            max_connections_per_address: 256,
            metrics_token: None,
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            reload_check_secs: 10,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".to_owned(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            secret: None,
            development: None,
            token_ttl_secs: 12 * 3600,
            session_hours: 10,
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            shards: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 40000,
            public_ips: Vec::new(),
            consent_timeout_secs: 30,
            lost_grace_secs: 30,
            ice_tcp: false,
        }
    }
}

impl Config {
    /// Loads the configuration: built-in defaults, then the file (if any), then `RELAIS_…`
    /// environment variables of this process.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Config::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (text, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                (text, path.display().to_string())
            }
            None => (String::new(), "built-in defaults".to_owned()),
        };
        Self::from_toml_with_env(&text, &origin, vars)
    }

    /// Parses TOML text (defaults fill what it omits), applies environment overrides, validates.
    pub fn from_toml_with_env(
        text: &str,
        origin: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        // Deserialize the file alone first: toml's errors then carry the line and the key.
        let from_file: Config = toml::from_str(text).map_err(|err| ConfigError::Invalid {
            origin: origin.to_owned(),
            message: err.to_string(),
        })?;
        let overrides = env::collect(vars);
        let config = if overrides.is_empty() {
            from_file
        } else {
            env::apply(text, origin, &overrides)?
        };
        config.validate().map_err(|message| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Cross-field checks that serde cannot express; the message names the key.
    fn validate(&self) -> Result<(), String> {
        self.validate_oidc()?;
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), None) => return Err("tls.key is required when tls.cert is set".into()),
            (None, Some(_)) => return Err("tls.cert is required when tls.key is set".into()),
            _ => {}
        }
        if self.auth.development == Some(false) && self.auth.secret.is_none() {
            return Err("auth.secret is required when auth.development is false".into());
        }
        if let Some(secret) = &self.auth.secret
            && secret.len() < 16
        {
            return Err("auth.secret must be at least 16 characters".into());
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.documents.max_bytes) {
            return Err("documents.max_bytes must be between 1024 and 104857600".into());
        }
        if self.documents.max_per_call == 0
            || self.documents.memory_bytes < self.documents.max_bytes
        {
            return Err(
                "documents.max_per_call must be at least 1 and documents.memory_bytes at least documents.max_bytes"
                    .into(),
            );
        }
        if self.http.header_read_timeout_secs == 0 {
            return Err("http.header_read_timeout_secs must be greater than 0".into());
        }
        if self.http.idle_timeout_secs == 0 {
            return Err("http.idle_timeout_secs must be greater than 0".into());
        }
        if self.http.max_connections == 0 || self.http.max_connections_per_address == 0 {
            return Err(
                "http.max_connections and http.max_connections_per_address must be greater than 0"
                    .into(),
            );
        }
        if !(2..=60).contains(&self.waiting.check_secs) {
            return Err("waiting.check_secs must be between 2 and 60".into());
        }
        if !(1..=3600).contains(&self.media.lost_grace_secs) {
            return Err("media.lost_grace_secs must be between 1 and 3600".into());
        }
        if !(5..=300).contains(&self.media.consent_timeout_secs) {
            return Err(
                "media.consent_timeout_secs must be between 5 and 300 (Firefox spaces its consent checks up to 6 s apart)"
                    .into(),
            );
        }
        if self.limits.kiosk_connections == 0 || self.limits.call_refusals_per_minute == 0 {
            return Err(
                "limits.kiosk_connections and limits.call_refusals_per_minute must be greater than 0"
                    .into(),
            );
        }
        if self.auth.token_ttl_secs == 0 {
            return Err("auth.token_ttl_secs must be greater than 0".into());
        }
        if self.media.shards > 256 {
            return Err(format!(
                "media.shards = {} is more than 256",
                self.media.shards
            ));
        }
        let shards = self.media.shards.max(1);
        if usize::from(self.media.port) + shards > usize::from(u16::MAX) + 1 {
            return Err(format!(
                "media.port = {} leaves no room for {shards} shard ports",
                self.media.port
            ));
        }
        if self.recovery.resume_secs > 3600 || self.recovery.agent_resume_secs > 3600 {
            return Err(
                "recovery.resume_secs and recovery.agent_resume_secs must be at most 3600".into(),
            );
        }
        self.validate_media_address()?;
        self.validate_turn()?;
        if self.log.level.trim().is_empty() {
            return Err("log.level must not be empty".into());
        }
        service::validate_services(&self.services)
    }

    /// Browsers need an address they can send media to: a wildcard bind says none.
    fn validate_media_address(&self) -> Result<(), String> {
        if self.media.bind.is_unspecified() && self.media.public_ips.is_empty() {
            return Err(format!(
                "media.bind = {} listens on every address but tells browsers none: their video \
                 would never connect. Set media.bind to the address browsers reach this \
                 server at, or keep the wildcard and list that address in media.public_ips \
                 (e.g. public_ips = [\"203.0.113.10\"])",
                self.media.bind
            ));
        }
        if let Some(ip) = self
            .media
            .public_ips
            .iter()
            .find(|ip| ip.is_unspecified() || ip.is_multicast())
        {
            return Err(format!(
                "media.public_ips: {ip} is not an address a browser can send media to"
            ));
        }
        Ok(())
    }

    fn validate_oidc(&self) -> Result<(), String> {
        if !(1..=24 * 31).contains(&self.auth.session_hours) {
            return Err("auth.session_hours must be between 1 and 744".into());
        }
        let Some(oidc) = &self.oidc else {
            return Ok(());
        };
        let public = self.http.public_url.as_deref().unwrap_or_default();
        if !(public.starts_with("https://") || public.starts_with("http://")) {
            return Err(
                "[oidc] needs http.public_url (e.g. \"https://relais.example.fr\"): the \
                 provider sends browsers back to <public_url>/auth/callback"
                    .into(),
            );
        }
        if !(oidc.issuer.starts_with("https://") || oidc.issuer.starts_with("http://")) {
            return Err("oidc.issuer must be an http(s) URL".into());
        }
        if oidc.client_id.trim().is_empty() {
            return Err("oidc.client_id is empty".into());
        }
        if oidc.client_secret.is_some() && oidc.client_secret_file.is_some() {
            return Err("give oidc.client_secret or oidc.client_secret_file, not both".into());
        }
        let roles = &oidc.roles;
        if roles.agent.is_empty() && roles.supervisor.is_empty() && roles.admin.is_empty() {
            return Err(format!(
                "[oidc.roles] gives no role: list the values of the `{}` claim that make an \
                 agent, a supervisor or an administrator (agent = [\"relais-agents\"])",
                oidc.roles_claim
            ));
        }
        Ok(())
    }

    fn validate_turn(&self) -> Result<(), String> {
        let mut relays = false;
        for url in &self.turn.urls {
            let (scheme, rest) = url.split_once(':').unwrap_or(("", ""));
            let host = rest.split(['?', ':']).next().unwrap_or_default();
            match scheme {
                "turn" | "turns" => relays = true,
                "stun" | "stuns" => {}
                _ => {
                    return Err(format!(
                        "turn.urls: `{url}` is not a stun:, turn: or turns: URL"
                    ));
                }
            }
            if host.is_empty() || rest.starts_with("//") || url.contains(char::is_whitespace) {
                return Err(format!(
                    "turn.urls: `{url}` has no host (write `{scheme}:host:port?transport=udp`)"
                ));
            }
            if let Some(query) = rest.split_once('?').map(|(_, q)| q)
                && !matches!(query, "transport=udp" | "transport=tcp")
            {
                return Err(format!(
                    "turn.urls: `{url}`: the only query is `?transport=udp` or `?transport=tcp`"
                ));
            }
        }
        match &self.turn.secret {
            None if relays => {
                return Err("turn.secret is required with a turn: or turns: URL (coturn's static-auth-secret)".into());
            }
            Some(secret) if secret.len() < 16 => {
                return Err("turn.secret must be at least 16 characters".into());
            }
            _ => {}
        }
        if !(60..=7 * 86400).contains(&self.turn.ttl_secs) {
            return Err("turn.ttl_secs must be between 60 and 604800".into());
        }
        Ok(())
    }

    /// The effective configuration as TOML, with secrets replaced.
    pub fn to_toml_redacted(&self) -> String {
        let mut shown = self.clone();
        if shown.auth.secret.is_some() {
            shown.auth.secret = Some("<redacted>".to_owned());
        }
        if shown.turn.secret.is_some() {
            shown.turn.secret = Some("<redacted>".to_owned());
        }
        if shown.http.metrics_token.is_some() {
            shown.http.metrics_token = Some("<redacted>".to_owned());
        }
        toml::to_string(&shown)
            .unwrap_or_else(|err| format!("# cannot show configuration: {err}\n"))
    }

    /// Whether development mode is on: asked for explicitly, or implied by having no secret.
    pub fn development(&self) -> bool {
        self.auth.development.unwrap_or(self.auth.secret.is_none())
    }

    /// Valid but risky combinations, for `check-config` and the start-up log.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.development() && self.auth.secret.is_some() {
            out.push(
                "auth.development = true with a configured auth.secret: the landing page and the \
                 start-up banner hand out kiosk, agent and supervisor tokens signed with that \
                 secret to anyone who reaches the server"
                    .to_owned(),
            );
        }
        if self.development() && !self.http.listen.ip().is_loopback() {
            out.push(format!(
                "development mode on a non-loopback address ({}): anyone on the network gets \
                 demo tokens; set auth.secret (and leave auth.development unset) in production",
                self.http.listen
            ));
        }
        let behind_tls_proxy = self
            .http
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"));
        if !self.http.listen.ip().is_loopback() && !self.tls_enabled() && !behind_tls_proxy {
            out.push(format!(
                "plain HTTP on a non-loopback address ({}): browsers give the camera and the \
                 microphone only to https:// pages, so kiosks and agents elsewhere get no \
                 video; configure [tls] cert and key, or behind a proxy that terminates TLS \
                 set http.public_url = \"https://…\"",
                self.http.listen
            ));
        }
        let media_local = self.media.bind.is_loopback()
            || (!self.media.public_ips.is_empty()
                && self.media.public_ips.iter().all(IpAddr::is_loopback));
        if media_local && !self.http.listen.ip().is_loopback() {
            out.push(format!(
                "the media address is loopback ({}) but the HTTP listener is not ({}): \
                 browsers on other machines sign in but their video never connects; set \
                 media.bind (or media.public_ips) to an address they reach",
                self.media
                    .public_ips
                    .first()
                    .copied()
                    .unwrap_or(self.media.bind),
                self.http.listen
            ));
        }
        out
    }

    /// Whether HTTPS is served directly.
    pub fn tls_enabled(&self) -> bool {
        self.tls.cert.is_some() && self.tls.key.is_some()
    }
}

#[cfg(test)]
mod tests;
