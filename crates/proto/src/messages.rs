//! The signalling messages of `/ws` (protocol version 1): what clients send (requests, each
//! with an `id` and answered by exactly one `ok` or `error` carrying that id) and what the
//! server sends (replies and pushes). JSON objects tagged by `type`.

use serde::{Deserialize, Serialize};

use crate::ids::CallId;
use crate::vocab::{
    AgentStateName, CallbackResult, ConsultState, EndReason, EndedBy, InterpreterState, LegRole,
    MediaLossReason, Outcome, SupervisionMode, WithdrawReason,
};

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Kiosk,
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Kiosk => "kiosk",
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

/// What an agent asks to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    Ready,
    NotReady,
}

/// A client's request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// First message of every connection.
    Hello {
        id: u64,
        protocol: u32,
        /// The role token; empty or absent in a console signed in in the browser, whose
        /// session cookie then authenticates the connection.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        token: String,
        /// With a session cookie: the role this console speaks as (a person may be agent and
        /// supervisor); absent: the first of agent, supervisor, admin the session has.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        /// A kiosk coming back after its connection dropped: the `resume` token of its last
        /// `welcome`, to get its call back (waiting at its place, or connected).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Liveness check from the client.
    Ping { id: u64 },
    /// The services with their open/closed state now.
    ListServices { id: u64 },
    /// Kiosk: call a service.
    Call { id: u64, service: String },
    /// Kiosk: give up while waiting.
    Cancel { id: u64 },
    /// Kiosk or agent: end the call in progress.
    Hangup { id: u64 },
    /// Kiosk or agent: the browser's SDP offer for the call's media; the reply is the answer.
    SdpOffer { id: u64, sdp: String },
    /// Kiosk or agent: the browser's answer to a server `sdp_offer` push (a renegotiation of
    /// its connected peer).
    SdpAnswer { id: u64, sdp: String },
    /// Kiosk or agent: a trickled ICE candidate (optional: the server learns addresses from
    /// connectivity checks).
    IceCandidate { id: u64, candidate: String },
    /// Agent: ready for calls, or not ready with a reason.
    SetState {
        id: u64,
        state: Readiness,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Agent: take the offered call.
    Accept { id: u64, call: CallId },
    /// Agent: decline the offered call.
    Reject { id: u64, call: CallId },
    /// Agent: wrap-up finished (before its time runs out), with an optional disposition code.
    WrapUpDone {
        id: u64,
        #[serde(default)]
        disposition: Option<String>,
    },
    /// Agent: its calls of the day, or those matching a search (period, service, case).
    MyCalls {
        id: u64,
        /// Ended at or after (Unix ms); default: local midnight, or no bound with another filter.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_ms: Option<i64>,
        /// Ended before (Unix ms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_ms: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Calls whose case reference starts with this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_ref: Option<String>,
    },
    /// Agent: the case reference and notes of its connected call or of the call it wraps up
    /// (`call`, that one only); saving again replaces them.
    CaseNote {
        id: u64,
        call: CallId,
        #[serde(default)]
        case_ref: Option<String>,
        #[serde(default)]
        notes: Option<String>,
    },
    /// Agent: sign out (not on a call): it takes no more calls and leaves the wallboard.
    Logout { id: u64 },
    /// Agent: hand the connected call on (a blind transfer) to the queue of `service`, or to
    /// `agent`, available now (one of the two): the kiosk stays connected and waits.
    Transfer {
        id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// Agent: the agents available now, to transfer a call to one of them.
    ListAgents { id: u64 },
    /// Agent: consult `agent`, available now, before handing the call over (a warm transfer):
    /// the kiosk is put on hold and the colleague is offered the consultation.
    Consult { id: u64, agent: String },
    /// Agent: hand the call to the colleague it consults, who answered; the kiosk comes off
    /// hold with the colleague and the agent goes to wrap-up.
    CompleteTransfer { id: u64 },
    /// Agent: end the consultation (or withdraw it before the colleague answers) and go on
    /// with the call; the kiosk comes off hold.
    CancelConsult { id: u64 },
    /// Agent: ask for an interpreter from an interpreter service, to join the connected call
    /// (its agents are offered it like any call).
    AddInterpreter { id: u64, service: String },
    /// Supervisor: receive KPI snapshots as they change.
    SubscribeKpis { id: u64 },
    /// Supervisor: the calls waiting now.
    ListWaiting { id: u64 },
    /// Supervisor: the calls connected now, with who supervises them.
    ListCalls { id: u64 },
    /// Supervisor: supervise a connected call in `mode`, or switch to `mode` in the call it
    /// supervises.
    Supervise {
        id: u64,
        call: CallId,
        mode: SupervisionMode,
    },
    /// Supervisor: leave the call it supervises.
    StopSupervising { id: u64 },
    /// A participant of a call in progress: a text message to the others.
    Chat { id: u64, text: String },
    /// Agent: show a web address to the kiosk of its connected call (the kiosk shows it and
    /// can print it). Files go through `POST /api/calls/{call}/documents`.
    ShareLink {
        id: u64,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// Agent: ask the kiosk of its connected call for a still picture at its camera's full
    /// resolution (the citizen shows a paper); it arrives as a `document` for the agent only.
    RequestSnapshot { id: u64 },
    /// Kiosk or agent: its link is too poor for video (`on`), or good again. Meanwhile it
    /// receives audio only and sends no video; the others get `peer_audio_only`.
    AudioOnly { id: u64, on: bool },
    /// Fresh ICE servers (TURN credentials expire): the same as `welcome` gives.
    IceServers { id: u64 },
    /// Kiosk: the state of its camera and microphone and its browser, for administrators.
    KioskStatus {
        id: u64,
        camera: DeviceState,
        microphone: DeviceState,
        /// The browser's user agent (its version).
        browser: String,
    },
    /// Kiosk: rather than wait, be called back on `phone` (its waiting call ends
    /// `callback_requested` and a callback task takes its place), as soon as an agent can or
    /// not before `not_before_ms` (Unix ms, later today).
    RequestCallback {
        id: u64,
        call: CallId,
        phone: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_before_ms: Option<i64>,
    },
    /// Agent: the callback task it took is done, with what came of the phone call; the agent
    /// goes to wrap-up as after a call.
    CallbackDone {
        id: u64,
        call: CallId,
        result: CallbackResult,
    },
}

/// How a kiosk's camera or microphone is, as its browser says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Opened and working.
    Ok,
    /// No such device plugged in.
    Missing,
    /// The browser or the system refused access.
    Refused,
    /// Present but it failed to open (in use, broken).
    Failed,
    /// Not tried yet.
    Unknown,
}

/// Every request type, as written on the wire.
pub const REQUEST_TYPES: &[&str] = &[
    "hello",
    "ping",
    "list_services",
    "call",
    "cancel",
    "request_callback",
    "hangup",
    "sdp_offer",
    "ice_candidate",
    "sdp_answer",
    "set_state",
    "accept",
    "reject",
    "wrap_up_done",
    "callback_done",
    "my_calls",
    "case_note",
    "logout",
    "transfer",
    "list_agents",
    "consult",
    "complete_transfer",
    "cancel_consult",
    "add_interpreter",
    "subscribe_kpis",
    "list_waiting",
    "list_calls",
    "supervise",
    "stop_supervising",
    "chat",
    "share_link",
    "request_snapshot",
    "audio_only",
    "ice_servers",
    "kiosk_status",
];

impl Request {
    /// The request's id.
    pub fn id(&self) -> u64 {
        match self {
            Request::Hello { id, .. }
            | Request::Ping { id }
            | Request::ListServices { id }
            | Request::Call { id, .. }
            | Request::Cancel { id }
            | Request::Hangup { id }
            | Request::SdpOffer { id, .. }
            | Request::SdpAnswer { id, .. }
            | Request::IceCandidate { id, .. }
            | Request::SetState { id, .. }
            | Request::Accept { id, .. }
            | Request::Reject { id, .. }
            | Request::WrapUpDone { id, .. }
            | Request::MyCalls { id, .. }
            | Request::CaseNote { id, .. }
            | Request::Logout { id }
            | Request::Transfer { id, .. }
            | Request::ListAgents { id }
            | Request::Consult { id, .. }
            | Request::CompleteTransfer { id }
            | Request::CancelConsult { id }
            | Request::AddInterpreter { id, .. }
            | Request::SubscribeKpis { id }
            | Request::ListWaiting { id }
            | Request::ListCalls { id }
            | Request::Supervise { id, .. }
            | Request::StopSupervising { id }
            | Request::Chat { id, .. }
            | Request::ShareLink { id, .. }
            | Request::RequestSnapshot { id }
            | Request::AudioOnly { id, .. }
            | Request::IceServers { id }
            | Request::KioskStatus { id, .. }
            | Request::RequestCallback { id, .. }
            | Request::CallbackDone { id, .. } => *id,
        }
    }

    /// The roles that may send this request.
    pub fn allowed_roles(&self) -> &'static [Role] {
        use Role::*;
        match self {
            Request::Hello { .. } | Request::Ping { .. } => &[Kiosk, Agent, Supervisor, Admin],
            Request::IceServers { .. } => &[Kiosk, Agent, Supervisor],
            Request::ListServices { .. } => &[Kiosk, Agent, Supervisor, Admin],
            Request::Call { .. }
            | Request::Cancel { .. }
            | Request::KioskStatus { .. }
            | Request::RequestCallback { .. } => &[Kiosk],
            Request::Hangup { .. } | Request::AudioOnly { .. } => &[Kiosk, Agent],
            // A supervisor negotiates the leg it has in a call (the call core refuses a session
            // with no leg).
            Request::SdpOffer { .. } | Request::SdpAnswer { .. } | Request::IceCandidate { .. } => {
                &[Kiosk, Agent, Supervisor]
            }
            Request::SetState { .. }
            | Request::Accept { .. }
            | Request::Reject { .. }
            | Request::WrapUpDone { .. }
            | Request::MyCalls { .. }
            | Request::CaseNote { .. }
            | Request::Logout { .. }
            | Request::Transfer { .. }
            | Request::ListAgents { .. }
            | Request::Consult { .. }
            | Request::CompleteTransfer { .. }
            | Request::CancelConsult { .. }
            | Request::AddInterpreter { .. }
            | Request::ShareLink { .. }
            | Request::RequestSnapshot { .. }
            | Request::CallbackDone { .. } => &[Agent],
            Request::SubscribeKpis { .. }
            | Request::ListWaiting { .. }
            | Request::ListCalls { .. } => &[Supervisor, Admin],
            Request::Supervise { .. } | Request::StopSupervising { .. } => &[Supervisor],
            // A supervisor chats only while it takes part in the conversation (the call core
            // refuses it otherwise).
            Request::Chat { .. } => &[Kiosk, Agent, Supervisor],
        }
    }
}

/// A message from the server.
/// How a waiting kiosk's microphone or camera reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputHealth {
    /// Sound (a picture) arrives.
    Ok,
    /// Nothing to hear (see) for a few seconds: only digital silence, or no frames at all.
    Missing,
}

/// What the agent offered a call is told of its caller's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerWarning {
    /// The kiosk's microphone sent only silence while it waited.
    MicrophoneSilent,
    /// The kiosk's camera sent no picture while it waited.
    CameraNoPicture,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The request `id` succeeded.
    Ok { id: u64, result: Reply },
    /// The request `id` (absent when the frame could not be read) failed.
    Error {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        id: Option<u64>,
        code: String,
        message: String,
    },
    /// Kiosk: where its call stands in the queue.
    QueuePosition {
        call: CallId,
        position: usize,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        eta_secs: Option<u64>,
        /// The wait is long enough for the service to offer a callback (`request_callback`).
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        callback: bool,
    },
    /// Agent: a call is offered; accept before `deadline_secs` run out.
    Offered {
        call: CallId,
        service: String,
        service_name: String,
        site: String,
        waited_secs: u64,
        deadline_secs: u64,
        /// For a consultation: the agent who consults (the call stays theirs until they hand
        /// it over).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        consult_from: Option<String>,
        /// This agent was offered this call before and did not take it (refused, missed or
        /// left): it comes back because no other agent could take it.
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        again: bool,
        /// What the server noticed of the caller's camera and microphone while it waited.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        caller_warnings: Vec<CallerWarning>,
        /// A callback task: phone the caller back (there is no media), then `callback_done`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        callback: Option<Box<CallbackOffer>>,
    },
    /// Agent: the offer is gone (expired, the caller left, or the agent became unavailable).
    OfferWithdrawn {
        call: CallId,
        reason: WithdrawReason,
    },
    /// Kiosk whose call waits with its media connected: how the server receives its
    /// microphone and camera (sent when either changes).
    InputCheck {
        call: CallId,
        microphone: InputHealth,
        camera: InputHealth,
        /// The camera's picture size and frame rate as received, once known.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        width: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        height: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        fps: Option<u16>,
    },
    /// Kiosk and agent: the call's media room is open; send an `sdp_offer` for its media.
    /// `waiting`: to a kiosk whose call is still in its queue (it connects its media to wait
    /// with hold audio and its camera and microphone checked; the agent comes later on the
    /// same connection).
    MediaReady {
        call: CallId,
        peer_role: Role,
        #[serde(skip_serializing_if = "std::ops::Not::not", default)]
        waiting: bool,
    },
    /// Kiosk and agent: the call ended (its record is already stored).
    CallEnded {
        call: CallId,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        by: Option<EndedBy>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<EndReason>,
    },
    /// The kiosk, the agent who transferred the call and its supervisors: the call goes to
    /// the queue of `to`; the kiosk keeps its media and waits for the next agent.
    CallTransferred {
        call: CallId,
        to: String,
        service_name: String,
        /// The agent it is offered to, for a transfer to a named agent.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        agent: Option<String>,
    },
    /// Kiosk: the call is on hold (the agent consults a colleague) or comes off hold.
    Hold { call: CallId, on: bool },
    /// The agent who consults and the colleague consulted: where the consultation stands.
    ConsultStatus {
        call: CallId,
        /// The colleague consulted.
        agent: String,
        status: ConsultState,
    },
    /// Agent: where its request for an interpreter stands.
    InterpreterStatus {
        call: CallId,
        service: String,
        status: InterpreterState,
    },
    /// A participant: the server offers a new negotiation of its connected peer (more
    /// participants to receive); answer with `sdp_answer`.
    SdpOffer { call: CallId, sdp: String },
    /// The other participants of a call: a leg's media is lost; it may come back within
    /// `grace_secs` (a new `sdp_offer` from it), else the call ends.
    PeerMediaLost {
        call: CallId,
        role: LegRole,
        reason: MediaLossReason,
        grace_secs: u64,
    },
    /// The other participants of a call: a lost leg's media is back.
    PeerMediaRestored { call: CallId, role: LegRole },
    /// Agent: its own state changed.
    AgentState {
        state: AgentStateName,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        call: Option<CallId>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        remaining_secs: Option<u64>,
        /// With `on_call`, when the call is a callback task: whom to phone (a console that
        /// reopens during a callback shows it again).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        callback: Option<Box<CallbackOffer>>,
    },
    /// A participant: who else takes part in its call, as far as it sees them (sent when that
    /// changes: a supervisor barges in or coaches, an interpreter joins or leaves).
    Participants {
        call: CallId,
        participants: Vec<Participant>,
    },
    /// A participant: a text message from another participant of its call.
    Chat {
        call: CallId,
        from: LegRole,
        name: String,
        text: String,
        at_ms: i64,
    },
    /// The kiosk or the agent of a call: a document the other passed across it (a file or a
    /// link the agent sends to the kiosk; a still or a file the kiosk sends, for the agent
    /// only). A file is read with `GET /api/documents/{id}` while the call lasts.
    Document { call: CallId, document: Document },
    /// Kiosk: the agent asks for a still picture from its camera at full resolution.
    SnapshotRequested { call: CallId },
    /// The other participants of a call: a leg's link is too poor for video (`on`: its picture
    /// stands still, its voice goes on), or good again.
    PeerAudioOnly {
        call: CallId,
        role: LegRole,
        on: bool,
    },
    /// The other participants of a call: a participant's signalling connection dropped
    /// (`online: false`; its media may go on, the call waits for it to come back) or came back.
    PeerSignalling {
        call: CallId,
        role: LegRole,
        online: bool,
    },
    /// Supervisor: a KPI snapshot (at most a few per second, only when something changed).
    Kpis(KpiSnapshot),
    /// The same user connected elsewhere; this connection is closed.
    SessionReplaced {},
    /// The server is stopping (a restart or maintenance): no new calls; calls in progress may
    /// finish for a while; connect again after `retry_after_secs`.
    ServerShuttingDown { retry_after_secs: u64 },
}

/// The result of a successful request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// `hello`: who the connection is.
    Welcome {
        role: Role,
        subject: String,
        protocol: u32,
        /// Kiosk: a notice to show before a call starts (calls may be listened to).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        notice: Option<String>,
        /// Kiosk and agent: what documents may pass across a call.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        documents: Option<DocumentPolicy>,
        /// Kiosk, agent and supervisor: the STUN and TURN servers to give `RTCPeerConnection`
        /// (absent when the server configures none).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        ice: Option<Box<IceServers>>,
        /// Kiosk: the token to give in the `hello` of its next connection if this one drops,
        /// to get its call back.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        resume: Option<String>,
        /// Kiosk: the call it got back with the `resume` of its `hello`.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        resumed: Option<Box<ResumedCall>>,
    },
    /// `list_services`.
    Services { services: Vec<ServiceInfo> },
    /// `call`: the call is queued.
    Queued { call: CallId },
    /// `sdp_offer`: the server's SDP answer.
    Answer { sdp: String },
    /// `my_calls`.
    Calls { calls: Vec<CallRow> },
    /// `subscribe_kpis`: the current snapshot.
    Kpis(KpiSnapshot),
    /// `list_waiting`.
    Waiting { calls: Vec<WaitingCall> },
    /// `list_calls`.
    LiveCalls { calls: Vec<LiveCall> },
    /// `list_agents`: agents available now.
    Agents { agents: Vec<String> },
    /// `share_link`: the link as the kiosk got it.
    Document { document: Document },
    /// `ice_servers`.
    Ice(IceServers),
    /// Anything else.
    Done {},
}

/// The callback an agent is offered: whom to phone, since when they wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackOffer {
    /// The number the caller left, as they typed it (digits, spaces, a leading `+`).
    pub phone: String,
    /// When they asked (Unix ms).
    pub requested_at_ms: i64,
    /// Not to be called before (Unix ms), when they chose a time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub not_before_ms: Option<i64>,
}

/// A kiosk's call given back to its new connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedCall {
    pub call: CallId,
    pub service: String,
    /// Whether an agent has it (`false`: it waits in its queue).
    pub connected: bool,
    /// Its place in the queue, while it waits and once the dispatcher told one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eta_secs: Option<u64>,
    /// It waits with its media open (as after `media_ready` with `waiting`): a kiosk whose
    /// peer connection did not survive negotiates again (`sdp_offer`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub media: bool,
}

/// ICE servers for a browser's `RTCPeerConnection` and how long their credentials last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServers {
    /// As `RTCConfiguration.iceServers` takes them.
    pub servers: Vec<IceServer>,
    /// Seconds the TURN credentials stay valid; ask `ice_servers` again before they end.
    pub ttl_secs: u64,
}

/// One entry of `RTCConfiguration.iceServers`: TURN REST credentials (`username` is
/// `expiry:subject`, `credential` the base64 HMAC-SHA1 of it under the TURN server's secret),
/// none for STUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credential: Option<String>,
}

/// A service as kiosks see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_en: Option<String>,
    pub open: bool,
    /// An interpreter service: agents add its interpreters to their calls; kiosks do not
    /// call it.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub interpreter: bool,
    /// The wrap-up codes its agents choose from.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub dispositions: Vec<String>,
}

/// One finished call, as an agent sees its day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRow {
    pub call: CallId,
    pub service: String,
    /// The service's display name, when it is still configured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_name: Option<String>,
    pub site: String,
    pub outcome: Outcome,
    pub ended_at_ms: i64,
    pub wait_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub talk_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub notes: Option<String>,
    /// The files the agent kept with the call.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub documents: Vec<Document>,
}

/// A document passed across a call: a file held by the server for the call, or a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Opaque; a file is at `/api/documents/{id}`.
    pub id: String,
    /// The file's name, or the link's title.
    pub name: String,
    /// Who sent it.
    pub from: LegRole,
    /// A file's type, found from its content: `application/pdf`, `image/jpeg`, `image/png`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    /// A file's size in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// A picture's size in pixels.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height: Option<u32>,
    /// A still the agent asked the kiosk's camera for.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub snapshot: bool,
    /// A link's address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// A file the agent kept with the call's record (read from the history until the
    /// retention date).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub attached: bool,
}

/// What documents may pass across a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentPolicy {
    /// The largest file, in bytes.
    pub max_bytes: u64,
    /// The types taken, found from the content.
    pub media_types: Vec<String>,
    /// Whether kiosks may send files (from a USB key) to the agent.
    pub kiosk_uploads: bool,
}

/// A waiting call, as supervisors see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitingCall {
    pub call: CallId,
    pub service: String,
    pub site: String,
    pub waited_secs: u64,
    pub offered: bool,
}

/// Another participant of a call, as one participant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub role: LegRole,
    /// Its display name.
    pub name: String,
    /// A supervisor's mode.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<SupervisionMode>,
}

/// A connected call, as supervisors see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveCall {
    pub call: CallId,
    pub service: String,
    /// The service's display name, when it is configured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_name: Option<String>,
    /// The agent who answered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agent: Option<String>,
    pub site: String,
    /// Seconds since it was answered.
    pub since_secs: u64,
    /// Who supervises it, and how.
    pub supervisors: Vec<Supervisor>,
}

/// A supervisor of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervisor {
    pub name: String,
    pub mode: SupervisionMode,
}

/// Live KPIs of every queue and the agents' states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiSnapshot {
    pub queues: Vec<QueueKpis>,
    pub agents: Vec<AgentRow>,
}

/// One queue's KPIs (definitions in docs/dispatcher.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueKpis {
    pub service: String,
    pub name: String,
    pub open: bool,
    pub waiting: usize,
    pub longest_wait_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub estimated_wait_secs: Option<u64>,
    pub agents: AgentCounts,
    /// The last 15 minutes.
    pub recent: WindowKpis,
    /// Since local midnight.
    pub today: WindowKpis,
}

/// Agents serving a queue, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCounts {
    pub logged_in: u32,
    pub available: u32,
    pub reserved: u32,
    pub on_call: u32,
    pub wrap_up: u32,
    pub not_ready: u32,
}

/// Counters and ratios over a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowKpis {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub overflowed: u64,
    /// Callers who asked to be called back while waiting (not abandons).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub callback_requested: u64,
    /// Callback tasks an agent took.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub callbacks_answered: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_level: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service_level_with_abandons: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub asa_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub aht_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub abandonment_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub occupancy: Option<f64>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One agent's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRow {
    pub agent: String,
    pub state: AgentStateName,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    pub since_secs: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub call: Option<CallId>,
    /// Calls answered since it signed in.
    #[serde(default)]
    pub calls: u64,
    /// Talk time of those that ended, in seconds.
    #[serde(default)]
    pub talk_secs: u64,
}

/// Error codes of `error` messages.
pub mod codes {
    pub const BAD_JSON: &str = "bad_json";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const NOT_AUTHENTICATED: &str = "not_authenticated";
    pub const ALREADY_AUTHENTICATED: &str = "already_authenticated";
    pub const BAD_TOKEN: &str = "bad_token";
    pub const TOKEN_EXPIRED: &str = "token_expired";
    pub const PROTOCOL_VERSION: &str = "protocol_version";
    pub const FORBIDDEN: &str = "forbidden";
    pub const WRONG_STATE: &str = "wrong_state";
    pub const UNKNOWN_SERVICE: &str = "unknown_service";
    pub const SERVICE_CLOSED: &str = "service_closed";
    pub const QUEUE_FULL: &str = "queue_full";
    pub const TRANSFER_REFUSED: &str = "transfer_refused";
    pub const NO_LONGER_OFFERED: &str = "no_longer_offered";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const TOO_MANY_CONNECTIONS: &str = "too_many_connections";
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    pub const MEDIA: &str = "media_error";
    pub const STORE_UNAVAILABLE: &str = "store_unavailable";
    pub const SHUTTING_DOWN: &str = "shutting_down";
    pub const INTERNAL: &str = "internal";
}
