//! Service (queue) settings: what kiosks can call, who may answer, when it is open, and the
//! demo services the server starts with when no configuration names any.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::types::{LocalDate, TimeRange, TimeZoneName};

/// One public service kiosks can call; it has one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Short stable identifier used in URLs, tokens and records (`a-z`, `0-9`, `-`, `_`).
    pub id: String,
    /// Name shown on kiosks (French).
    pub name: String,
    /// Name shown when the kiosk is switched to English.
    #[serde(default)]
    pub name_en: Option<String>,
    /// Skills an agent needs to take this service's calls; empty means any agent.
    #[serde(default)]
    pub skills: Vec<SkillRequirement>,
    /// How the next agent is chosen.
    #[serde(default)]
    pub strategy: RoutingStrategy,
    /// Added to every call's priority in this queue (higher is served first).
    #[serde(default)]
    pub priority: i32,
    /// Seconds of waiting that raise a call's effective priority by one (0: no ageing).
    #[serde(default = "default_ageing_secs")]
    pub ageing_secs: u64,
    /// Time zone of the opening hours.
    #[serde(default)]
    pub timezone: TimeZoneName,
    /// Opening hours per weekday; absent means always open.
    #[serde(default)]
    pub hours: Option<WeekHours>,
    /// Dates on which the service is closed all day.
    #[serde(default)]
    pub holidays: Vec<LocalDate>,
    /// Calls allowed to wait at once; a further call is refused (0: no limit).
    #[serde(default)]
    pub max_waiting: usize,
    /// Longest wait in seconds before the call overflows (0: no limit).
    #[serde(default)]
    pub max_wait_secs: u64,
    /// Service that takes calls that waited `max_wait_secs`; absent means they end timed out.
    #[serde(default)]
    pub overflow_to: Option<String>,
    /// Seconds an agent has to accept an offered call.
    #[serde(default = "default_offer_timeout_secs")]
    pub offer_timeout_secs: u64,
    /// Seconds of wrap-up after each call before the agent is available again.
    #[serde(default = "default_wrap_up_secs")]
    pub wrap_up_secs: u64,
    /// Service-level threshold in seconds (answered within it counts as in service level).
    #[serde(default = "default_sl_secs")]
    pub service_level_secs: u64,
    /// The share of answered calls to answer within `service_level_secs` (0.8: 80 % within
    /// 20 s). Exported for the alert on a service level below target.
    #[serde(default = "default_sl_target")]
    pub service_level_target: f64,
    /// What supervisors may do on this service's calls (no call is ever recorded).
    #[serde(default)]
    pub supervision: SupervisionPolicy,
    /// An interpreter queue (French Sign Language, a spoken language): agents add its
    /// interpreters to their calls; kiosks do not call it.
    #[serde(default)]
    pub interpreter: bool,
    /// Keep the chat of this service's calls with their records (off: the chat lives only as
    /// long as the call).
    #[serde(default)]
    pub chat_retention: bool,
    /// Hold audio of this service's waiting calls (WAV or Ogg/Opus); by default
    /// `waiting.hold_audio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_audio: Option<std::path::PathBuf>,
    /// Offer a waiting caller to be called back ("être rappelé": a phone number, a time later
    /// today) once the estimated wait reaches this many seconds (0: from the start); absent:
    /// this service does not call back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_after_secs: Option<u64>,
    /// The wrap-up codes its agents choose from (at most 64 characters each); by default a
    /// generic list (information given, file passed on, appointment, referred elsewhere, no
    /// follow-up). Empty: the agent types a code of its own.
    #[serde(default = "default_dispositions")]
    pub dispositions: Vec<String>,
}

/// The wrap-up codes of a service that names none.
pub fn default_dispositions() -> Vec<String> {
    [
        "renseignement",
        "dossier-transmis",
        "rendez-vous",
        "reorientation",
        "sans-suite",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The supervision modes allowed on a service's calls; all of them by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionPolicy {
    /// Listening to the kiosk and the agent.
    pub monitor: bool,
    /// Coaching: the supervisor's voice reaches the agent only.
    pub whisper: bool,
    /// Joining the conversation.
    pub barge: bool,
}

impl Default for SupervisionPolicy {
    fn default() -> Self {
        Self {
            monitor: true,
            whisper: true,
            barge: true,
        }
    }
}

impl SupervisionPolicy {
    /// Whether `mode` is allowed.
    pub fn allows(&self, mode: relais_proto::SupervisionMode) -> bool {
        match mode {
            relais_proto::SupervisionMode::Monitor => self.monitor,
            relais_proto::SupervisionMode::Whisper => self.whisper,
            relais_proto::SupervisionMode::Barge => self.barge,
        }
    }
}

/// A skill an agent needs, with the minimum proficiency, relaxed as the call waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    pub skill: String,
    /// Proficiency 1–5 required at first.
    #[serde(default = "default_proficiency")]
    pub min_proficiency: u8,
    /// Steps `[seconds waited, proficiency]` that lower the requirement over time.
    #[serde(default)]
    pub relax: Vec<(u64, u8)>,
}

/// How a queue picks among available agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingStrategy {
    #[default]
    LongestIdle,
    RoundRobin,
    FewestCalls,
    LeastTalkTime,
    Random,
    Linear,
    RingProgressive,
}

/// Opening hours, one list of local ranges per weekday; a missing day is closed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeekHours {
    pub mon: Vec<TimeRange>,
    pub tue: Vec<TimeRange>,
    pub wed: Vec<TimeRange>,
    pub thu: Vec<TimeRange>,
    pub fri: Vec<TimeRange>,
    pub sat: Vec<TimeRange>,
    pub sun: Vec<TimeRange>,
}

impl WeekHours {
    /// The days in order Monday first, with their names.
    pub fn days(&self) -> [(&'static str, &[TimeRange]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

fn default_ageing_secs() -> u64 {
    60
}
fn default_offer_timeout_secs() -> u64 {
    20
}
fn default_wrap_up_secs() -> u64 {
    30
}
fn default_sl_secs() -> u64 {
    20
}
fn default_sl_target() -> f64 {
    0.8
}
fn default_proficiency() -> u8 {
    1
}

/// Checks what spans several keys; messages name the key as `services[i].field`.
pub fn validate_services(services: &[ServiceConfig]) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for (i, service) in services.iter().enumerate() {
        let key = |field: &str| format!("services[{i}].{field}");
        let valid_id = !service.id.is_empty()
            && service.id.len() <= 64
            && service
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(format!(
                "{} = {:?}: use 1–64 characters among a-z, 0-9, '-' and '_'",
                key("id"),
                service.id
            ));
        }
        if !ids.insert(service.id.as_str()) {
            return Err(format!("{} = {:?} is used twice", key("id"), service.id));
        }
        if service.name.trim().is_empty() {
            return Err(format!("{} must not be empty", key("name")));
        }
        if service.offer_timeout_secs == 0 {
            return Err(format!("{} must be at least 1", key("offer_timeout_secs")));
        }
        let mut codes = BTreeSet::new();
        for (j, code) in service.dispositions.iter().enumerate() {
            let count = code.chars().count();
            if code.trim().is_empty() || count > relais_proto::limits::MAX_DISPOSITION_CHARS {
                return Err(format!(
                    "services[{i}].dispositions[{j}] = {code:?}: use 1–64 characters"
                ));
            }
            if !codes.insert(code.as_str()) {
                return Err(format!(
                    "services[{i}].dispositions[{j}] = {code:?} is listed twice"
                ));
            }
        }
        if !(service.service_level_target > 0.0 && service.service_level_target <= 1.0) {
            return Err(format!(
                "services[{i}].service_level_target = {}: a share above 0 and at most 1 (0.8 for 80 %)",
                service.service_level_target
            ));
        }
        for (j, skill) in service.skills.iter().enumerate() {
            let skill_key = format!("services[{i}].skills[{j}]");
            if skill.skill.trim().is_empty() {
                return Err(format!("{skill_key}.skill must not be empty"));
            }
            if !(1..=5).contains(&skill.min_proficiency) {
                return Err(format!(
                    "{skill_key}.min_proficiency must be between 1 and 5"
                ));
            }
            let mut previous = (0, skill.min_proficiency);
            for (k, &(after, level)) in skill.relax.iter().enumerate() {
                if !(1..=5).contains(&level) {
                    return Err(format!(
                        "{skill_key}.relax[{k}]: proficiency must be between 1 and 5"
                    ));
                }
                if after <= previous.0 && k > 0 || level > previous.1 {
                    return Err(format!(
                        "{skill_key}.relax[{k}]: steps must come later in time and lower the proficiency"
                    ));
                }
                previous = (after, level);
            }
        }
        if let Some(hours) = &service.hours {
            for (day, ranges) in hours.days() {
                let mut sorted = ranges.to_vec();
                sorted.sort();
                if sorted
                    .windows(2)
                    .any(|pair| pair[1].start_minute < pair[0].end_minute)
                {
                    return Err(format!("{}: ranges overlap", key(&format!("hours.{day}"))));
                }
            }
        }
    }
    for (i, service) in services.iter().enumerate() {
        if let Some(target) = &service.overflow_to {
            if target == &service.id {
                return Err(format!(
                    "services[{i}].overflow_to: a service cannot overflow to itself"
                ));
            }
            if !ids.contains(target.as_str()) {
                return Err(format!(
                    "services[{i}].overflow_to = {target:?} names no service"
                ));
            }
        }
    }
    Ok(())
}

/// The services a fresh server shows: three always open, one with office hours.
pub(super) fn demo_services() -> Vec<ServiceConfig> {
    let office = TimeRange {
        start_minute: 8 * 60 + 30,
        end_minute: 17 * 60,
    };
    let service = |id: &str, name: &str, name_en: &str| ServiceConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        name_en: Some(name_en.to_owned()),
        skills: vec![SkillRequirement {
            skill: id.to_owned(),
            min_proficiency: 1,
            relax: Vec::new(),
        }],
        strategy: RoutingStrategy::LongestIdle,
        priority: 0,
        ageing_secs: default_ageing_secs(),
        timezone: TimeZoneName::default(),
        hours: None,
        holidays: Vec::new(),
        max_waiting: 50,
        max_wait_secs: 0,
        overflow_to: None,
        offer_timeout_secs: default_offer_timeout_secs(),
        wrap_up_secs: default_wrap_up_secs(),
        service_level_secs: default_sl_secs(),
        service_level_target: default_sl_target(),
        supervision: SupervisionPolicy::default(),
        interpreter: false,
        chat_retention: false,
        hold_audio: None,
        callback_after_secs: None,
        dispositions: default_dispositions(),
    };
    let mut ants = service(
        "ants",
        "ANTS — titres sécurisés (carte d'identité, passeport)",
        "ANTS — identity cards and passports",
    );
    ants.hours = Some(WeekHours {
        mon: vec![office],
        tue: vec![office],
        wed: vec![office],
        thu: vec![office],
        fri: vec![office],
        ..WeekHours::default()
    });
    vec![
        service(
            "caf",
            "CAF — allocations familiales",
            "CAF — family allowances",
        ),
        service(
            "cpam",
            "Assurance maladie (CPAM)",
            "Health insurance (CPAM)",
        ),
        service(
            "impots",
            "Impôts — finances publiques",
            "Taxes — public finances",
        ),
        ants,
    ]
}
