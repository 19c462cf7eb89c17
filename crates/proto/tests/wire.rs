//! The wire JSON of protocol v1 against docs/protocol.md: every example in the document must
//! deserialize into the proto types and serialize back to the same JSON, so the document and
//! the code cannot drift apart. Also: strictness of requests, `REQUEST_TYPES`, roles, codes.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use relais_proto::messages::{
    AgentCounts, AgentRow, CallRow, CallbackOffer, DeviceState, Document, DocumentPolicy,
    IceServer, IceServers, KpiSnapshot, LiveCall, Participant, QueueKpis, ResumedCall, ServiceInfo,
    Supervisor, WaitingCall, WindowKpis,
};
use relais_proto::{
    AgentStateName, CallId, CallbackResult, CallerWarning, ConsultState, EndReason, EndedBy,
    InputHealth, InterpreterState, LegRole, MediaLossReason, Outcome, PROTOCOL_VERSION, Readiness,
    Reply, Request, Role, ServerMessage, SupervisionMode, WithdrawReason, codes,
};
use serde_json::Value;

const DOC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/protocol.md"
));

// ---------------------------------------------------------------------------------------------
// Reading the document

/// What a marker line says the next fenced block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Server,
    Other,
    Flow,
}

/// One checked example: where it starts in the document, and its text.
struct Example {
    line: usize,
    text: String,
}

struct Doc {
    requests: Vec<Example>,
    servers: Vec<Example>,
    /// Lines of the flow blocks: (line, from, to, json).
    flow_lines: Vec<(usize, String, String, String)>,
}

fn marker_kind(line: &str) -> Option<Kind> {
    match line.trim() {
        "<!-- example: request -->" => Some(Kind::Request),
        "<!-- example: server -->" => Some(Kind::Server),
        "<!-- example: other -->" => Some(Kind::Other),
        "<!-- flow -->" => Some(Kind::Flow),
        _ => None,
    }
}

/// Splits the document into its marked blocks. Every ```json block must carry a marker (so an
/// example cannot silently escape the checks), and every marker must be followed by a block.
fn read_doc() -> Doc {
    let lines: Vec<&str> = DOC.lines().collect();
    let mut doc = Doc {
        requests: Vec::new(),
        servers: Vec::new(),
        flow_lines: Vec::new(),
    };
    let mut pending: Option<(usize, Kind)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let number = i + 1;
        if let Some(kind) = marker_kind(line) {
            assert!(pending.is_none(), "line {number}: marker follows a marker");
            pending = Some((number, kind));
            i += 1;
            continue;
        }
        if let Some(lang) = line.strip_prefix("```") {
            let start = i;
            i += 1;
            let mut body = Vec::new();
            while i < lines.len() && lines[i] != "```" {
                body.push(lines[i]);
                i += 1;
            }
            assert!(i < lines.len(), "line {number}: unclosed code block");
            match (lang, pending.take()) {
                ("json", Some((_, Kind::Request))) => doc.requests.push(Example {
                    line: start + 2,
                    text: body.join("\n"),
                }),
                ("json", Some((_, Kind::Server))) => doc.servers.push(Example {
                    line: start + 2,
                    text: body.join("\n"),
                }),
                ("json", Some((_, Kind::Other))) => {}
                ("json", _) => panic!("line {number}: a ```json block without an example marker"),
                ("text", Some((_, Kind::Flow))) => {
                    for (offset, flow) in body.iter().enumerate() {
                        doc.flow_lines.extend(flow_line(start + 2 + offset, flow));
                    }
                }
                (_, Some((marker, kind))) => {
                    panic!("line {marker}: marker {kind:?} before a ```{lang} block")
                }
                (_, None) => {}
            }
        } else if let Some((marker, _)) = pending
            && !line.trim().is_empty()
        {
            panic!("line {marker}: marker not followed by a code block");
        }
        i += 1;
    }
    assert!(pending.is_none(), "a marker at the end of the document");
    doc
}

/// A flow line `X → Y {json}`; comments (`· …`) give nothing, anything else is an error.
fn flow_line(number: usize, line: &str) -> Option<(usize, String, String, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('·') {
        return None;
    }
    let (from, rest) = line
        .split_once(" → ")
        .unwrap_or_else(|| panic!("line {number}: not `X → Y {{json}}` nor a `·` comment"));
    let (to, json) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("line {number}: no JSON after the arrow"));
    assert!(
        json.starts_with('{'),
        "line {number}: the message must be a JSON object"
    );
    Some((number, from.to_owned(), to.to_owned(), json.to_owned()))
}

/// The rows of the table that follows `<!-- table: NAME -->`, split into trimmed cells.
fn table(name: &str) -> Vec<Vec<String>> {
    let marker = format!("<!-- table: {name} -->");
    let mut lines = DOC.lines().skip_while(|line| line.trim() != marker).skip(1);
    let header = lines.next().unwrap_or_else(|| panic!("no table {name}"));
    assert!(
        header.starts_with('|'),
        "table {name}: no header after the marker"
    );
    let separator = lines.next().unwrap();
    assert!(separator.starts_with("|---"), "table {name}: no separator");
    lines
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|cell| cell.strip_suffix('`'))
        .unwrap_or_else(|| panic!("{cell:?} is not a `code` cell"))
}

/// Requests have `Option` fields without `skip_serializing_if`, so serde writes `None` as
/// `null` while clients may leave the field out; both read as `None`. Compare without nulls.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn parse_value(line: usize, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("line {line}: not JSON: {err}"))
}

/// Parses a request example, checks it serializes back to the same JSON and that `id()` is
/// the example's `id`.
fn check_request(line: usize, text: &str) -> Request {
    let value = parse_value(line, text);
    let request: Request = serde_json::from_value(value.clone())
        .unwrap_or_else(|err| panic!("line {line}: not a Request: {err}\n{text}"));
    let again = serde_json::to_value(&request).unwrap();
    assert_eq!(
        without_nulls(again),
        without_nulls(value.clone()),
        "line {line}: the request does not serialize back to the document's JSON"
    );
    assert_eq!(
        Some(request.id()),
        value["id"].as_u64(),
        "line {line}: id()"
    );
    request
}

/// Parses a server example and checks it serializes back to exactly the document's JSON.
fn check_server(line: usize, text: &str) -> ServerMessage {
    let value = parse_value(line, text);
    let message: ServerMessage = serde_json::from_value(value.clone())
        .unwrap_or_else(|err| panic!("line {line}: not a ServerMessage: {err}\n{text}"));
    let again = serde_json::to_value(&message).unwrap();
    assert_eq!(
        again, value,
        "line {line}: the message does not serialize back to the document's JSON"
    );
    assert_eq!(
        value["type"].as_str(),
        Some(server_type(&message)),
        "line {line}: type tag"
    );
    message
}

// ---------------------------------------------------------------------------------------------
// The variants (exhaustive matches: a new variant does not compile until it is listed here)

fn request_type(request: &Request) -> &'static str {
    match request {
        Request::Hello { .. } => "hello",
        Request::Ping { .. } => "ping",
        Request::ListServices { .. } => "list_services",
        Request::Call { .. } => "call",
        Request::Cancel { .. } => "cancel",
        Request::Hangup { .. } => "hangup",
        Request::SdpOffer { .. } => "sdp_offer",
        Request::SdpAnswer { .. } => "sdp_answer",
        Request::IceCandidate { .. } => "ice_candidate",
        Request::SetState { .. } => "set_state",
        Request::Accept { .. } => "accept",
        Request::ShareLink { .. } => "share_link",
        Request::KioskStatus { .. } => "kiosk_status",
        Request::RequestSnapshot { .. } => "request_snapshot",
        Request::AudioOnly { .. } => "audio_only",
        Request::IceServers { .. } => "ice_servers",
        Request::Reject { .. } => "reject",
        Request::WrapUpDone { .. } => "wrap_up_done",
        Request::MyCalls { .. } => "my_calls",
        Request::CaseNote { .. } => "case_note",
        Request::Logout { .. } => "logout",
        Request::Transfer { .. } => "transfer",
        Request::ListAgents { .. } => "list_agents",
        Request::Consult { .. } => "consult",
        Request::CompleteTransfer { .. } => "complete_transfer",
        Request::CancelConsult { .. } => "cancel_consult",
        Request::AddInterpreter { .. } => "add_interpreter",
        Request::SubscribeKpis { .. } => "subscribe_kpis",
        Request::ListWaiting { .. } => "list_waiting",
        Request::ListCalls { .. } => "list_calls",
        Request::Supervise { .. } => "supervise",
        Request::StopSupervising { .. } => "stop_supervising",
        Request::Chat { .. } => "chat",
        Request::RequestCallback { .. } => "request_callback",
        Request::CallbackDone { .. } => "callback_done",
    }
}

const SERVER_TYPES: &[&str] = &[
    "ok",
    "error",
    "queue_position",
    "offered",
    "offer_withdrawn",
    "input_check",
    "media_ready",
    "call_ended",
    "sdp_offer",
    "peer_media_lost",
    "peer_media_restored",
    "agent_state",
    "call_transferred",
    "interpreter_status",
    "hold",
    "consult_status",
    "participants",
    "chat",
    "document",
    "snapshot_requested",
    "peer_audio_only",
    "peer_signalling",
    "kpis",
    "session_replaced",
    "server_shutting_down",
];

fn server_type(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Ok { .. } => "ok",
        ServerMessage::Error { .. } => "error",
        ServerMessage::QueuePosition { .. } => "queue_position",
        ServerMessage::Offered { .. } => "offered",
        ServerMessage::OfferWithdrawn { .. } => "offer_withdrawn",
        ServerMessage::MediaReady { .. } => "media_ready",
        ServerMessage::InputCheck { .. } => "input_check",
        ServerMessage::CallEnded { .. } => "call_ended",
        ServerMessage::SdpOffer { .. } => "sdp_offer",
        ServerMessage::PeerMediaLost { .. } => "peer_media_lost",
        ServerMessage::PeerMediaRestored { .. } => "peer_media_restored",
        ServerMessage::AgentState { .. } => "agent_state",
        ServerMessage::CallTransferred { .. } => "call_transferred",
        ServerMessage::InterpreterStatus { .. } => "interpreter_status",
        ServerMessage::Hold { .. } => "hold",
        ServerMessage::Document { .. } => "document",
        ServerMessage::SnapshotRequested { .. } => "snapshot_requested",
        ServerMessage::PeerAudioOnly { .. } => "peer_audio_only",
        ServerMessage::PeerSignalling { .. } => "peer_signalling",
        ServerMessage::ConsultStatus { .. } => "consult_status",
        ServerMessage::Participants { .. } => "participants",
        ServerMessage::Chat { .. } => "chat",
        ServerMessage::Kpis(_) => "kpis",
        ServerMessage::SessionReplaced {} => "session_replaced",
        ServerMessage::ServerShuttingDown { .. } => "server_shutting_down",
    }
}

const REPLY_KINDS: &[&str] = &[
    "welcome",
    "services",
    "queued",
    "answer",
    "calls",
    "kpis",
    "waiting",
    "live_calls",
    "agents",
    "document",
    "ice",
    "done",
];

fn reply_kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Welcome { .. } => "welcome",
        Reply::Services { .. } => "services",
        Reply::Queued { .. } => "queued",
        Reply::Answer { .. } => "answer",
        Reply::Calls { .. } => "calls",
        Reply::Document { .. } => "document",
        Reply::Ice(_) => "ice",
        Reply::Kpis(_) => "kpis",
        Reply::Waiting { .. } => "waiting",
        Reply::LiveCalls { .. } => "live_calls",
        Reply::Agents { .. } => "agents",
        Reply::Done {} => "done",
    }
}

const ALL_CODES: &[&str] = &[
    codes::BAD_JSON,
    codes::BAD_REQUEST,
    codes::UNKNOWN_TYPE,
    codes::NOT_AUTHENTICATED,
    codes::ALREADY_AUTHENTICATED,
    codes::BAD_TOKEN,
    codes::TOKEN_EXPIRED,
    codes::PROTOCOL_VERSION,
    codes::FORBIDDEN,
    codes::WRONG_STATE,
    codes::UNKNOWN_SERVICE,
    codes::SERVICE_CLOSED,
    codes::QUEUE_FULL,
    codes::TRANSFER_REFUSED,
    codes::NO_LONGER_OFFERED,
    codes::RATE_LIMITED,
    codes::TOO_MANY_CONNECTIONS,
    codes::FRAME_TOO_LARGE,
    codes::MEDIA,
    codes::STORE_UNAVAILABLE,
    codes::SHUTTING_DOWN,
    codes::INTERNAL,
];

/// The requests of the document's examples, in order, field by field.
fn documented_requests() -> Vec<Request> {
    vec![
        Request::Hello {
            id: 1,
            protocol: 1,
            token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYWdlbnQiLCJzdWIiOiJhbGljZSIsImV4cCI6MTc2NzIyNTYwMCwic2tpbGxzIjpbWyJjYWYiLDNdLFsiY3BhbSIsMl1dfQ.c2lnbmF0dXJl".to_owned(),
            role: None,
            resume: None,
        },
        Request::Hello {
            id: 1,
            protocol: 1,
            token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoia2lvc2siLCJzdWIiOiJib3JuZS1sb2RldmUtMSIsImV4cCI6MTc2NzIyNTYwMCwic2l0ZSI6Im1haXJpZS1sb2RldmUifQ.c2lnbmF0dXJl".to_owned(),
            role: None,
            resume: Some("7c1e0f5a9b3d42e88f6a1c2b3d4e5f60".to_owned()),
        },
        Request::Hello {
            id: 1,
            protocol: 1,
            token: String::new(),
            role: Some(Role::Supervisor),
            resume: None,
        },
        Request::Ping { id: 2 },
        Request::ListServices { id: 3 },
        Request::Call {
            id: 4,
            service: "caf".to_owned(),
        },
        Request::Cancel { id: 5 },
        Request::RequestCallback {
            id: 6,
            call: CallId(1042),
            phone: "06 12 34 56 78".to_owned(),
            not_before_ms: Some(1767618000000),
        },
        Request::Hangup { id: 6 },
        Request::SdpOffer {
            id: 7,
            sdp: "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n…".to_owned(),
        },
        Request::IceCandidate {
            id: 8,
            candidate: "candidate:842163049 1 udp 1677729535 198.51.100.7 54321 typ srflx raddr 0.0.0.0 rport 0 generation 0".to_owned(),
        },
        Request::SdpAnswer {
            id: 17,
            sdp: "v=0\r\no=- 4611731400430051336 3 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2 3\r\n…".to_owned(),
        },
        Request::SetState {
            id: 9,
            state: Readiness::Ready,
            reason: None,
        },
        Request::SetState {
            id: 10,
            state: Readiness::NotReady,
            reason: Some("pause".to_owned()),
        },
        Request::Accept {
            id: 11,
            call: CallId(1042),
        },
        Request::Reject {
            id: 12,
            call: CallId(1042),
        },
        Request::WrapUpDone {
            id: 13,
            disposition: Some("dossier-transmis".to_owned()),
        },
        Request::CallbackDone {
            id: 14,
            call: CallId(1093),
            result: CallbackResult::Reached,
        },
        Request::MyCalls {
            id: 14,
            from_ms: None,
            to_ms: None,
            service: None,
            case_ref: None,
        },
        Request::MyCalls {
            id: 32,
            from_ms: Some(1764547200000),
            to_ms: Some(1767225600000),
            service: Some("caf".to_owned()),
            case_ref: Some("CAF-2026".to_owned()),
        },
        Request::CaseNote {
            id: 33,
            call: CallId(1042),
            case_ref: Some("CAF-2026-004217".to_owned()),
            notes: Some("Attestation de paiement envoyée par courrier.".to_owned()),
        },
        Request::Logout { id: 31 },
        Request::Transfer {
            id: 23,
            service: Some("cpam".to_owned()),
            agent: None,
        },
        Request::Transfer {
            id: 25,
            service: None,
            agent: Some("bob".to_owned()),
        },
        Request::ListAgents { id: 26 },
        Request::Consult {
            id: 27,
            agent: "bob".to_owned(),
        },
        Request::CompleteTransfer { id: 28 },
        Request::CancelConsult { id: 29 },
        Request::AddInterpreter {
            id: 24,
            service: "lsf".to_owned(),
        },
        Request::SubscribeKpis { id: 15 },
        Request::ListWaiting { id: 16 },
        Request::ListCalls { id: 18 },
        Request::Supervise {
            id: 19,
            call: CallId(1040),
            mode: SupervisionMode::Monitor,
        },
        Request::Supervise {
            id: 20,
            call: CallId(1040),
            mode: SupervisionMode::Barge,
        },
        Request::StopSupervising { id: 21 },
        Request::Chat {
            id: 22,
            text: "Votre numéro de dossier : 2026-1042".to_owned(),
        },
        Request::ShareLink {
            id: 23,
            url: "https://www.caf.fr/allocataires/mon-compte".to_owned(),
            title: Some("Mon Compte CAF".to_owned()),
        },
        Request::RequestSnapshot { id: 24 },
        Request::AudioOnly { id: 25, on: true },
        Request::IceServers { id: 26 },
        Request::KioskStatus {
            id: 27,
            camera: DeviceState::Ok,
            microphone: DeviceState::Missing,
            browser: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36".to_owned(),
        },
    ]
}

fn window(counts: [u64; 5], ratios: Option<(f64, f64, f64, f64, f64, f64)>) -> WindowKpis {
    let [offered, answered, abandoned, short_abandoned, overflowed] = counts;
    let mut window = WindowKpis {
        offered,
        answered,
        abandoned,
        short_abandoned,
        overflowed,
        ..WindowKpis::default()
    };
    if let Some((sl, sla, asa, aht, rate, occupancy)) = ratios {
        window.service_level = Some(sl);
        window.service_level_with_abandons = Some(sla);
        window.asa_secs = Some(asa);
        window.aht_secs = Some(aht);
        window.abandonment_rate = Some(rate);
        window.occupancy = Some(occupancy);
    }
    window
}

fn sample_ice() -> IceServers {
    IceServers {
        servers: vec![IceServer {
            urls: vec![
                "turn:turn.example.fr:3478?transport=udp".to_owned(),
                "turn:turn.example.fr:3478?transport=tcp".to_owned(),
                "turns:turn.example.fr:443?transport=tcp".to_owned(),
            ],
            username: Some("1767247200:agent-alice".to_owned()),
            credential: Some("lQvBfM0iA4C9j8cHUF2pDJ3dzeI=".to_owned()),
        }],
        ttl_secs: 21600,
    }
}

/// Server messages built from the types; each must appear, as serde writes it, in the doc.
fn sample_server_messages() -> Vec<ServerMessage> {
    let ok = |id, result| ServerMessage::Ok { id, result };
    let cpam_window = window([4, 3, 0, 0, 0], Some((1.0, 1.0, 8.5, 240.0, 0.0, 0.75)));
    vec![
        ok(
            1,
            Reply::Welcome {
                role: Role::Agent,
                subject: "alice".to_owned(),
                protocol: PROTOCOL_VERSION,
                notice: None,
                documents: None,
                ice: None,
                resume: None,
                resumed: None,
            },
        ),
        ok(
            1,
            Reply::Welcome {
                role: Role::Agent,
                subject: "alice".to_owned(),
                protocol: PROTOCOL_VERSION,
                notice: None,
                documents: None,
                ice: Some(Box::new(sample_ice())),
                resume: None,
                resumed: None,
            },
        ),
        ok(26, Reply::Ice(sample_ice())),
        ok(
            1,
            Reply::Welcome {
                role: Role::Kiosk,
                subject: "borne-lodeve-1".to_owned(),
                protocol: PROTOCOL_VERSION,
                notice: Some(
                    "Les appels peuvent être écoutés par un responsable afin d'améliorer la qualité du service."
                        .to_owned(),
                ),
                documents: Some(DocumentPolicy {
                    max_bytes: 10_485_760,
                    media_types: vec![
                        "application/pdf".to_owned(),
                        "image/jpeg".to_owned(),
                        "image/png".to_owned(),
                    ],
                    kiosk_uploads: true,
                }),
                ice: None,
                resume: None,
                resumed: None,
            },
        ),
        ok(
            18,
            Reply::LiveCalls {
                calls: vec![
                    LiveCall {
                        call: CallId(1040),
                        service: "caf".to_owned(),
                        service_name: Some("CAF — allocations familiales".to_owned()),
                        agent: Some("alice".to_owned()),
                        site: "mairie-lodeve".to_owned(),
                        since_secs: 184,
                        supervisors: vec![Supervisor {
                            name: "Claire Martin".to_owned(),
                            mode: SupervisionMode::Whisper,
                        }],
                    },
                    LiveCall {
                        call: CallId(1042),
                        service: "cpam".to_owned(),
                        service_name: Some("Assurance maladie (CPAM)".to_owned()),
                        agent: Some("dan".to_owned()),
                        site: "ms-ganges".to_owned(),
                        since_secs: 12,
                        supervisors: vec![],
                    },
                ],
            },
        ),
        ok(19, Reply::Done {}),
        ServerMessage::Hold {
            call: CallId(1042),
            on: true,
        },
        ServerMessage::ConsultStatus {
            call: CallId(1042),
            agent: "bob".to_owned(),
            status: ConsultState::Joined,
        },
        ServerMessage::InterpreterStatus {
            call: CallId(1040),
            service: "lsf".to_owned(),
            status: InterpreterState::Joined,
        },
        ServerMessage::CallTransferred {
            call: CallId(1042),
            to: "cpam".to_owned(),
            service_name: "Assurance maladie (CPAM)".to_owned(),
            agent: None,
        },
        ServerMessage::CallTransferred {
            call: CallId(1042),
            to: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            agent: Some("bob".to_owned()),
        },
        ok(
            26,
            Reply::Agents {
                agents: vec!["bob".to_owned(), "carla".to_owned()],
            },
        ),
        ServerMessage::Participants {
            call: CallId(1040),
            participants: vec![
                Participant {
                    role: LegRole::Agent,
                    name: "alice".to_owned(),
                    mode: None,
                },
                Participant {
                    role: LegRole::Supervisor,
                    name: "Claire Martin".to_owned(),
                    mode: Some(SupervisionMode::Barge),
                },
            ],
        },
        ServerMessage::Chat {
            call: CallId(1040),
            from: LegRole::Agent,
            name: "alice".to_owned(),
            text: "Votre numéro de dossier : 2026-1042".to_owned(),
            at_ms: 1_767_258_311_250,
        },
        ServerMessage::Error {
            id: Some(1),
            code: codes::TOKEN_EXPIRED.to_owned(),
            message: "the token expired at 2026-01-01T00:00:00Z".to_owned(),
        },
        ok(2, Reply::Done {}),
        ok(
            3,
            Reply::Services {
                services: vec![
                    ServiceInfo {
                        id: "caf".to_owned(),
                        name: "CAF — allocations familiales".to_owned(),
                        name_en: Some("CAF — family allowances".to_owned()),
                        open: true,
                        interpreter: false,
                        dispositions: vec![
                            "renseignement".to_owned(),
                            "dossier-transmis".to_owned(),
                            "rendez-vous".to_owned(),
                        ],
                    },
                    ServiceInfo {
                        id: "ants".to_owned(),
                        name: "ANTS — titres sécurisés (carte d'identité, passeport)".to_owned(),
                        name_en: Some("ANTS — identity cards and passports".to_owned()),
                        open: false,
                        interpreter: false,
                        dispositions: Vec::new(),
                    },
                    ServiceInfo {
                        id: "mairie".to_owned(),
                        name: "Accueil de la mairie".to_owned(),
                        name_en: None,
                        open: true,
                        interpreter: false,
                        dispositions: Vec::new(),
                    },
                ],
            },
        ),
        ok(4, Reply::Queued { call: CallId(1042) }),
        ok(
            14,
            Reply::Calls {
                calls: vec![
                    CallRow {
                        call: CallId(1017),
                        service: "cpam".to_owned(),
                        service_name: Some("Assurance maladie (CPAM)".to_owned()),
                        site: "mairie-lodeve".to_owned(),
                        outcome: Outcome::Answered,
                        ended_at_ms: 1_767_258_311_250,
                        wait_secs: 12.5,
                        talk_secs: Some(304.0),
                        disposition: Some("dossier-transmis".to_owned()),
                        case_ref: Some("CPAM-2026-118".to_owned()),
                        notes: Some("Carte Vitale : demande transmise.".to_owned()),
                        documents: vec![Document {
                            id: "5f0c9d2e8a7b41c3b6e1d4a9f2c8e7b1".to_owned(),
                            name: "photo.jpg".to_owned(),
                            from: LegRole::Kiosk,
                            media_type: Some("image/jpeg".to_owned()),
                            size: Some(734_211),
                            width: Some(1920),
                            height: Some(1080),
                            snapshot: true,
                            url: None,
                            attached: true,
                        }],
                    },
                    CallRow {
                        call: CallId(1042),
                        service: "caf".to_owned(),
                        service_name: Some("CAF — allocations familiales".to_owned()),
                        site: "mairie-lodeve".to_owned(),
                        outcome: Outcome::Abandoned,
                        ended_at_ms: 1_767_260_102_500,
                        wait_secs: 41.0,
                        talk_secs: None,
                        disposition: None,
                        case_ref: None,
                        notes: None,
                        documents: Vec::new(),
                    },
                ],
            },
        ),
        ok(
            16,
            Reply::Waiting {
                calls: vec![
                    WaitingCall {
                        call: CallId(1039),
                        service: "caf".to_owned(),
                        site: "mairie-lodeve".to_owned(),
                        waited_secs: 47,
                        offered: true,
                    },
                    WaitingCall {
                        call: CallId(1041),
                        service: "caf".to_owned(),
                        site: "ms-ganges".to_owned(),
                        waited_secs: 20,
                        offered: false,
                    },
                    WaitingCall {
                        call: CallId(1042),
                        service: "cpam".to_owned(),
                        site: "mairie-lodeve".to_owned(),
                        waited_secs: 6,
                        offered: false,
                    },
                ],
            },
        ),
        ServerMessage::QueuePosition {
            call: CallId(1042),
            position: 2,
            eta_secs: Some(95),
            callback: false,
        },
        ServerMessage::QueuePosition {
            call: CallId(1042),
            position: 6,
            eta_secs: Some(1500),
            callback: true,
        },
        ServerMessage::QueuePosition {
            call: CallId(1042),
            position: 1,
            eta_secs: None,
            callback: false,
        },
        ServerMessage::Offered {
            call: CallId(1042),
            service: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            site: "mairie-lodeve".to_owned(),
            waited_secs: 31,
            deadline_secs: 20,
            consult_from: None,
            again: false,
            caller_warnings: Vec::new(),
            callback: None,
        },
        ServerMessage::Offered {
            call: CallId(1042),
            service: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            site: "mairie-lodeve".to_owned(),
            waited_secs: 31,
            deadline_secs: 20,
            consult_from: None,
            again: false,
            caller_warnings: vec![CallerWarning::MicrophoneSilent],
            callback: None,
        },
        ServerMessage::Offered {
            call: CallId(1093),
            service: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            site: "mairie-lodeve".to_owned(),
            waited_secs: 1260,
            deadline_secs: 20,
            consult_from: None,
            again: false,
            caller_warnings: Vec::new(),
            callback: Some(Box::new(CallbackOffer {
                phone: "06 12 34 56 78".to_owned(),
                requested_at_ms: 1767603600000,
                not_before_ms: Some(1767618000000),
            })),
        },
        ServerMessage::Offered {
            call: CallId(1042),
            service: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            site: "mairie-lodeve".to_owned(),
            waited_secs: 43,
            deadline_secs: 20,
            consult_from: None,
            again: true,
            caller_warnings: Vec::new(),
            callback: None,
        },
        ServerMessage::Offered {
            call: CallId(1077),
            service: "caf".to_owned(),
            service_name: "CAF — allocations familiales".to_owned(),
            site: "mairie-lodeve".to_owned(),
            waited_secs: 0,
            deadline_secs: 20,
            consult_from: Some("alice".to_owned()),
            again: false,
            caller_warnings: Vec::new(),
            callback: None,
        },
        ServerMessage::OfferWithdrawn {
            call: CallId(1042),
            reason: WithdrawReason::Expired,
        },
        ServerMessage::MediaReady {
            call: CallId(1042),
            peer_role: Role::Agent,
            waiting: false,
        },
        ServerMessage::MediaReady {
            call: CallId(1042),
            peer_role: Role::Agent,
            waiting: true,
        },
        ServerMessage::MediaReady {
            call: CallId(1042),
            peer_role: Role::Kiosk,
            waiting: true,
        },
        ServerMessage::InputCheck {
            call: CallId(1042),
            microphone: InputHealth::Missing,
            camera: InputHealth::Ok,
            width: Some(640),
            height: Some(480),
            fps: Some(24),
        },
        ServerMessage::InputCheck {
            call: CallId(1042),
            microphone: InputHealth::Ok,
            camera: InputHealth::Missing,
            width: None,
            height: None,
            fps: None,
        },
        ServerMessage::CallEnded {
            call: CallId(1042),
            outcome: Outcome::Answered,
            by: Some(EndedBy::Kiosk),
            reason: Some(EndReason::Hangup),
        },
        ServerMessage::CallEnded {
            call: CallId(1042),
            outcome: Outcome::TimedOut,
            by: None,
            reason: None,
        },
        ServerMessage::CallEnded {
            call: CallId(1042),
            outcome: Outcome::Answered,
            by: Some(EndedBy::Server),
            reason: Some(EndReason::MediaLost),
        },
        ServerMessage::SdpOffer {
            call: CallId(1042),
            sdp:
                "v=0\r\no=- 7716534281059137412 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n…"
                    .to_owned(),
        },
        ServerMessage::PeerMediaLost {
            call: CallId(1042),
            role: LegRole::Kiosk,
            reason: MediaLossReason::ConsentExpired,
            grace_secs: 30,
        },
        ServerMessage::PeerMediaRestored {
            call: CallId(1042),
            role: LegRole::Kiosk,
        },
        ServerMessage::AgentState {
            state: AgentStateName::WrapUp,
            reason: None,
            call: Some(CallId(1042)),
            remaining_secs: Some(30),
            callback: None,
        },
        ServerMessage::AgentState {
            state: AgentStateName::NotReady,
            reason: Some("disconnected".to_owned()),
            call: None,
            remaining_secs: None,
            callback: None,
        },
        ServerMessage::AgentState {
            state: AgentStateName::Available,
            reason: None,
            call: None,
            remaining_secs: None,
            callback: None,
        },
        ServerMessage::AgentState {
            state: AgentStateName::OnCall,
            reason: None,
            call: Some(CallId(1093)),
            remaining_secs: None,
            callback: Some(Box::new(CallbackOffer {
                phone: "06 12 34 56 78".to_owned(),
                requested_at_ms: 1767603600000,
                not_before_ms: None,
            })),
        },
        ServerMessage::Kpis(KpiSnapshot {
            queues: vec![QueueKpis {
                service: "cpam".to_owned(),
                name: "Assurance maladie (CPAM)".to_owned(),
                open: true,
                waiting: 1,
                longest_wait_secs: 6,
                estimated_wait_secs: Some(40),
                agents: AgentCounts {
                    logged_in: 2,
                    available: 0,
                    reserved: 1,
                    on_call: 1,
                    wrap_up: 0,
                    not_ready: 0,
                },
                recent: cpam_window.clone(),
                today: cpam_window,
            }],
            agents: vec![
                AgentRow {
                    agent: "dan".to_owned(),
                    state: AgentStateName::Reserved,
                    reason: None,
                    since_secs: 2,
                    call: Some(CallId(1042)),
                    calls: 3,
                    talk_secs: 720,
                },
                AgentRow {
                    agent: "erin".to_owned(),
                    state: AgentStateName::WrapUp,
                    reason: None,
                    since_secs: 14,
                    call: Some(CallId(1038)),
                    calls: 5,
                    talk_secs: 1230,
                },
            ],
        }),
        ok(
            23,
            Reply::Document {
                document: Document {
                    id: "a41b7c0e9d2f48e6b3c5d8f1e7a2c9b4".to_owned(),
                    name: "Mon Compte CAF".to_owned(),
                    from: LegRole::Agent,
                    media_type: None,
                    size: None,
                    width: None,
                    height: None,
                    snapshot: false,
                    url: Some("https://www.caf.fr/allocataires/mon-compte".to_owned()),
                    attached: false,
                },
            },
        ),
        ServerMessage::Document {
            call: CallId(1040),
            document: Document {
                id: "9e3d5b7a1c0f42e8a6b4d2c9f7e1a3b5".to_owned(),
                name: "attestation-de-paiement.pdf".to_owned(),
                from: LegRole::Agent,
                media_type: Some("application/pdf".to_owned()),
                size: Some(48_213),
                width: None,
                height: None,
                snapshot: false,
                url: None,
                attached: false,
            },
        },
        ServerMessage::SnapshotRequested { call: CallId(1040) },
        ServerMessage::PeerAudioOnly {
            call: CallId(1040),
            role: LegRole::Kiosk,
            on: true,
        },
        ServerMessage::PeerSignalling {
            call: CallId(1040),
            role: LegRole::Kiosk,
            online: false,
        },
        ok(
            1,
            Reply::Welcome {
                role: Role::Kiosk,
                subject: "borne-lodeve-1".to_owned(),
                protocol: PROTOCOL_VERSION,
                notice: None,
                documents: None,
                ice: None,
                resume: Some("0b8f3e2d1c4a49f7a6e5d4c3b2a19087".to_owned()),
                resumed: Some(Box::new(ResumedCall {
                    call: CallId(1041),
                    service: "caf".to_owned(),
                    connected: false,
                    position: Some(2),
                    eta_secs: Some(240),
                    media: true,
                })),
            },
        ),
        ServerMessage::SessionReplaced {},
        ServerMessage::ServerShuttingDown {
            retry_after_secs: 5,
        },
        ServerMessage::Error {
            id: None,
            code: codes::BAD_JSON.to_owned(),
            message: "expected value at line 1 column 1".to_owned(),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// The document's examples

#[test]
fn every_request_example_parses_and_serializes_back() {
    let doc = read_doc();
    let parsed: Vec<Request> = doc
        .requests
        .iter()
        .map(|example| check_request(example.line, &example.text))
        .collect();
    assert_eq!(
        parsed,
        documented_requests(),
        "the request examples differ from the expected requests (field by field)"
    );
}

#[test]
fn every_server_example_parses_and_serializes_back() {
    let doc = read_doc();
    assert!(!doc.servers.is_empty());
    for example in &doc.servers {
        check_server(example.line, &example.text);
    }
}

#[test]
fn every_flow_line_is_a_valid_message() {
    let doc = read_doc();
    assert!(doc.flow_lines.len() > 20, "the call flows went missing");
    let actors = ["K", "A", "B"];
    for (line, from, to, json) in &doc.flow_lines {
        if from == "S" {
            assert!(
                actors.contains(&to.as_str()),
                "line {line}: unknown actor {to}"
            );
            check_server(*line, json);
        } else {
            assert!(
                actors.contains(&from.as_str()),
                "line {line}: unknown actor {from}"
            );
            assert_eq!(to, "S", "line {line}: clients only talk to the server");
            check_request(*line, json);
        }
    }
}

#[test]
fn sample_server_messages_appear_verbatim_in_the_doc() {
    let doc = read_doc();
    let documented: Vec<Value> = doc
        .servers
        .iter()
        .map(|example| parse_value(example.line, &example.text))
        .collect();
    for message in sample_server_messages() {
        let value = serde_json::to_value(&message).unwrap();
        assert!(
            documented.contains(&value),
            "not in docs/protocol.md as serde writes it:\n{}",
            serde_json::to_string(&message).unwrap()
        );
    }
}

#[test]
fn the_doc_shows_every_server_message_type_and_reply_kind() {
    let doc = read_doc();
    let mut types = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for example in &doc.servers {
        let message = check_server(example.line, &example.text);
        types.insert(server_type(&message));
        if let ServerMessage::Ok { result, .. } = &message {
            kinds.insert(reply_kind(result));
        }
    }
    assert_eq!(types, SERVER_TYPES.iter().copied().collect());
    assert_eq!(kinds, REPLY_KINDS.iter().copied().collect());
}

#[test]
fn error_examples_use_known_codes() {
    let doc = read_doc();
    let servers = doc
        .servers
        .iter()
        .map(|example| (example.line, example.text.clone()));
    let flows = doc
        .flow_lines
        .iter()
        .filter(|(_, from, _, _)| from == "S")
        .map(|(line, _, _, json)| (*line, json.clone()));
    for (line, text) in servers.chain(flows) {
        if let ServerMessage::Error { code, .. } = check_server(line, &text) {
            assert!(
                ALL_CODES.contains(&code.as_str()),
                "line {line}: unknown code {code}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request types and strictness

#[test]
fn request_types_lists_exactly_the_variants() {
    let serialized: Vec<String> = documented_requests()
        .iter()
        .map(|request| {
            let value = serde_json::to_value(request).unwrap();
            let tag = value["type"].as_str().unwrap().to_owned();
            assert_eq!(tag, request_type(request), "tag of {request:?}");
            tag
        })
        .collect();
    let mut unique = serialized.clone();
    unique.dedup();
    assert_eq!(unique, relais_proto::messages::REQUEST_TYPES);
    let set: BTreeSet<&str> = relais_proto::messages::REQUEST_TYPES
        .iter()
        .copied()
        .collect();
    assert_eq!(
        set.len(),
        relais_proto::messages::REQUEST_TYPES.len(),
        "duplicates"
    );
}

#[test]
fn requests_with_unknown_fields_are_rejected() {
    for request in documented_requests() {
        let mut value = serde_json::to_value(&request).unwrap();
        value["extra"] = Value::from(1);
        let parsed: Result<Request, _> = serde_json::from_value(value);
        assert!(parsed.is_err(), "{request:?} accepted an unknown field");
    }
}

#[test]
fn unknown_or_missing_types_are_rejected() {
    let bad = [
        r#"{"type": "sign_off", "id": 1}"#,
        r#"{"type": "Hello", "id": 1, "protocol": 1, "token": "t"}"#,
        r#"{"type": "ok", "id": 1, "result": {"kind": "done"}}"#,
        r#"{"id": 1}"#,
    ];
    for text in bad {
        let parsed: Result<Request, _> = serde_json::from_str(text);
        assert!(parsed.is_err(), "accepted as a request: {text}");
    }
    let parsed: Result<ServerMessage, _> = serde_json::from_str(r#"{"type": "offer_made"}"#);
    assert!(parsed.is_err());
    let parsed: Result<ServerMessage, _> =
        serde_json::from_str(r#"{"type": "ok", "id": 1, "result": {"kind": "maybe"}}"#);
    assert!(parsed.is_err());
}

#[test]
fn requests_with_missing_or_mistyped_fields_are_rejected() {
    let bad = [
        r#"{"type": "ping"}"#,
        r#"{"type": "ping", "id": "1"}"#,
        r#"{"type": "ping", "id": -1}"#,
        r#"{"type": "call", "id": 1}"#,
        r#"{"type": "accept", "id": 1, "call": "1042"}"#,
        r#"{"type": "set_state", "id": 1, "state": "busy"}"#,
        r#"{"type": "hello", "id": 1, "protocol": "1", "token": "t"}"#,
    ];
    for text in bad {
        let parsed: Result<Request, _> = serde_json::from_str(text);
        assert!(parsed.is_err(), "accepted: {text}");
    }
}

#[test]
fn optional_request_fields_may_be_omitted_or_null() {
    for text in [
        r#"{"type": "set_state", "id": 1, "state": "not_ready"}"#,
        r#"{"type": "set_state", "id": 1, "state": "not_ready", "reason": null}"#,
    ] {
        let parsed: Request = serde_json::from_str(text).unwrap();
        assert_eq!(
            parsed,
            Request::SetState {
                id: 1,
                state: Readiness::NotReady,
                reason: None
            }
        );
    }
    let parsed: Request = serde_json::from_str(r#"{"type": "wrap_up_done", "id": 2}"#).unwrap();
    assert_eq!(
        parsed,
        Request::WrapUpDone {
            id: 2,
            disposition: None
        }
    );
}

#[test]
fn server_messages_tolerate_unknown_fields() {
    // The document tells clients to ignore fields they do not know; the Rust client types
    // (load generator, tests) must do the same.
    let text = r#"{"type": "queue_position", "call": 7, "position": 3, "new_field": true}"#;
    let parsed: ServerMessage = serde_json::from_str(text).unwrap();
    assert_eq!(
        parsed,
        ServerMessage::QueuePosition {
            call: CallId(7),
            position: 3,
            eta_secs: None,
            callback: false,
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Tables

#[test]
fn roles_table_matches_allowed_roles() {
    let columns = [Role::Kiosk, Role::Agent, Role::Supervisor, Role::Admin];
    let rows: BTreeMap<String, Vec<Role>> = table("roles")
        .into_iter()
        .map(|cells| {
            assert_eq!(cells.len(), 5, "roles row {cells:?}");
            let allowed = columns
                .iter()
                .zip(&cells[1..])
                .filter_map(|(role, cell)| match cell.as_str() {
                    "✓" => Some(*role),
                    "" => None,
                    other => panic!("roles cell {other:?}: use ✓ or nothing"),
                })
                .collect();
            (unquote(&cells[0]).to_owned(), allowed)
        })
        .collect();
    let documented: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    let all: BTreeSet<&str> = relais_proto::messages::REQUEST_TYPES
        .iter()
        .copied()
        .collect();
    assert_eq!(
        documented, all,
        "the roles table must list every request type once"
    );
    for request in documented_requests() {
        assert_eq!(
            rows[request_type(&request)],
            request.allowed_roles(),
            "roles of {}",
            request_type(&request)
        );
    }
}

#[test]
fn key_role_rules() {
    let requests = documented_requests();
    let find = |name: &str| {
        requests
            .iter()
            .find(|request| request_type(request) == name)
            .unwrap()
            .allowed_roles()
    };
    assert!(
        !find("accept").contains(&Role::Kiosk),
        "a kiosk may not accept"
    );
    assert!(
        !find("subscribe_kpis").contains(&Role::Agent),
        "an agent may not watch KPIs"
    );
    assert!(find("subscribe_kpis").contains(&Role::Supervisor));
    assert!(find("call").contains(&Role::Kiosk));
    assert!(!find("call").contains(&Role::Supervisor));
    assert!(find("hangup").contains(&Role::Agent) && find("hangup").contains(&Role::Kiosk));
    assert!(find("list_waiting").contains(&Role::Admin));
    assert_eq!(find("hello").len(), 4, "everyone says hello");
}

#[test]
fn error_code_table_lists_exactly_the_codes() {
    let documented: Vec<String> = table("error-codes")
        .iter()
        .map(|cells| unquote(&cells[0]).to_owned())
        .collect();
    let unique: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), documented.len(), "a code is listed twice");
    assert_eq!(unique, ALL_CODES.iter().copied().collect());
}
