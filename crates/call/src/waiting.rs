//! The wait with media: a queued kiosk's peer hears hold audio (with its place in the queue
//! spoken) until a participant it receives is connected, and the server checks its
//! microphone and camera meanwhile, warning the kiosk and the agent it is offered to.

use std::time::Instant;

use relais_proto::{CallId, CallerWarning, InputHealth, LegRole, ServerMessage};

use crate::call::{Call, CallState, LegMedia};
use crate::core::CallCore;
use crate::io::{MediaCommand, MediaLink, Output};

/// Below this level (dBFS) the microphone sends only silence: a dead, muted or covered
/// device (a quiet room still measures around -70 dBFS of noise).
pub const SILENCE_DBFS: i16 = -90;

/// The wait's media state of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitingMedia {
    /// The kiosk peer hearing hold audio now.
    pub hold: Option<MediaLink>,
    /// The kiosk peer metered now.
    pub meter: Option<MediaLink>,
    /// When and which place was last announced.
    pub announced: Option<(Instant, usize)>,
    pub inputs: InputCheck,
}

/// What the server receives of the kiosk's devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputCheck {
    /// Since when the microphone sends only silence (or nothing).
    pub silent_since: Option<Instant>,
    /// Since when the camera sends no frame.
    pub dark_since: Option<Instant>,
    /// What the kiosk was last told: (microphone ok, camera ok).
    pub told: Option<(bool, bool)>,
    pub width: u16,
    pub height: u16,
    pub fps: u16,
}

impl CallCore {
    /// Brings the hold audio and the metering of a call's kiosk peer in line with the call:
    /// hold while the kiosk's peer is connected, waits (queued or on hold) and hears nobody
    /// connected; metering while it waits in a queue.
    pub(crate) fn refresh_waiting(&mut self, now: Instant, id: CallId) {
        let hold_on = self.config.hold_audio;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(kiosk) = call.leg_of_role(LegRole::Kiosk) else {
            return;
        };
        let connected = kiosk.media_state == LegMedia::Connected && call.end_reason.is_none();
        let link = kiosk.media.filter(|_| connected);
        let hears_someone = kiosk.receives.iter().any(|r| {
            r.kinds.audio
                && call
                    .leg(r.from)
                    .is_some_and(|p| p.media_state == LegMedia::Connected)
        });
        // The wait's audio: while queued, on hold (a consultation), and from the answer until
        // the agent's leg connects when it already played (never a burst of it in the moment
        // between the two legs of a call negotiated at the answer).
        let in_wait = matches!(call.state, CallState::Waiting { .. })
            || call.on_hold
            || call.waiting.hold.is_some();
        let want_hold = link.filter(|_| hold_on && in_wait && !hears_someone);
        let want_meter = link.filter(|_| matches!(call.state, CallState::Waiting { .. }));
        let position = queue_place(call).map(|(p, eta)| (p, eta.map(|d| d.as_secs())));
        let state = &mut call.waiting;
        let mut commands = Vec::new();
        if state.hold != want_hold {
            if let Some(old) = state.hold.take() {
                commands.push(MediaCommand::Hold {
                    call: id,
                    link: old,
                    on: false,
                });
            }
            if let Some(new) = want_hold {
                commands.push(MediaCommand::Hold {
                    call: id,
                    link: new,
                    on: true,
                });
                // The place in the queue, as soon as the caller hears the wait.
                if let Some((position, eta_secs)) = position {
                    state.announced = Some((now, position));
                    commands.push(MediaCommand::Announce {
                        call: id,
                        link: new,
                        position,
                        eta_secs,
                    });
                }
            }
            state.hold = want_hold;
        }
        if state.meter != want_meter {
            if let Some(old) = state.meter.take() {
                commands.push(MediaCommand::Meter {
                    link: old,
                    on: false,
                });
            }
            if let Some(new) = want_meter {
                commands.push(MediaCommand::Meter {
                    link: new,
                    on: true,
                });
                state.inputs = InputCheck::default();
            }
            state.meter = want_meter;
        }
        self.outputs.extend(commands.into_iter().map(Output::Media));
    }

    /// The call's place changed: spoken at once to a kiosk on hold.
    pub(crate) fn position_changed(&mut self, now: Instant, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let (Some(link), Some((position, eta))) = (call.waiting.hold, queue_place(call)) else {
            return;
        };
        if call
            .waiting
            .announced
            .is_some_and(|(_, said)| said == position)
        {
            return;
        }
        call.waiting.announced = Some((now, position));
        self.outputs
            .push_back(Output::Media(MediaCommand::Announce {
                call: id,
                link,
                position,
                eta_secs: eta.map(|d| d.as_secs()),
            }));
    }

    /// When the next repeated announcement is due.
    pub(crate) fn announce_deadline(&self) -> Option<Instant> {
        let every = self.config.announce_every?;
        self.calls
            .values()
            .filter(|c| c.waiting.hold.is_some() && queue_place(c).is_some())
            .filter_map(|c| c.waiting.announced.map(|(at, _)| at + every))
            .min()
    }

    /// Repeats the announcements due.
    pub(crate) fn announce_timeout(&mut self, now: Instant) {
        let Some(every) = self.config.announce_every else {
            return;
        };
        let mut commands = Vec::new();
        for call in self.calls.values_mut() {
            let (Some(link), Some((position, eta)), Some((at, _))) =
                (call.waiting.hold, queue_place(call), call.waiting.announced)
            else {
                continue;
            };
            if at + every <= now {
                call.waiting.announced = Some((now, position));
                commands.push(MediaCommand::Announce {
                    call: call.id,
                    link,
                    position,
                    eta_secs: eta.map(|d| d.as_secs()),
                });
            }
        }
        self.outputs.extend(commands.into_iter().map(Output::Media));
    }

    /// A second of the kiosk's input as the server received it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn input_report(
        &mut self,
        now: Instant,
        link: MediaLink,
        audio_packets: u32,
        audio_dbfs: Option<i16>,
        video_frames: u32,
        width: u16,
        height: u16,
    ) {
        let Some(&(id, _)) = self.by_peer.get(&link) else {
            return;
        };
        let after = self.config.check_after;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.waiting.meter != Some(link) {
            return;
        }
        let inputs = &mut call.waiting.inputs;
        let sound = audio_packets > 0 && audio_dbfs.is_some_and(|db| db > SILENCE_DBFS);
        if sound {
            inputs.silent_since = None;
        } else {
            inputs.silent_since.get_or_insert(now);
        }
        if video_frames > 0 {
            inputs.dark_since = None;
        } else {
            inputs.dark_since.get_or_insert(now);
        }
        let (old_w, old_h, old_fps) = (inputs.width, inputs.height, inputs.fps);
        if width > 0 {
            inputs.width = width;
            inputs.height = height;
        }
        inputs.fps = u16::try_from(video_frames).unwrap_or(u16::MAX);
        let lasting = |since: Option<Instant>| {
            since
                .is_some_and(|s| now.saturating_duration_since(s) + crate::waiting::WINDOW >= after)
        };
        let microphone = !lasting(inputs.silent_since);
        let camera = !lasting(inputs.dark_since);
        let changed = inputs.told != Some((microphone, camera))
            || (inputs.width, inputs.height) != (old_w, old_h)
            || old_fps.abs_diff(inputs.fps) >= 5;
        if !changed {
            return;
        }
        inputs.told = Some((microphone, camera));
        let health = |ok: bool| {
            if ok {
                InputHealth::Ok
            } else {
                InputHealth::Missing
            }
        };
        let message = ServerMessage::InputCheck {
            call: id,
            microphone: health(microphone),
            camera: health(camera),
            width: (inputs.width > 0).then_some(inputs.width),
            height: (inputs.height > 0).then_some(inputs.height),
            fps: (inputs.fps > 0).then_some(inputs.fps),
        };
        if let Some(session) = self.kiosk_session(id) {
            self.push(session, message);
        }
    }

    /// What the agent offered `id` should know of its caller's devices.
    pub(crate) fn caller_warnings(&self, id: CallId) -> Vec<CallerWarning> {
        let Some(call) = self.calls.get(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some((microphone, camera)) = call.waiting.inputs.told {
            if !microphone {
                out.push(CallerWarning::MicrophoneSilent);
            }
            if !camera {
                out.push(CallerWarning::CameraNoPicture);
            }
        }
        out
    }
}

/// The place of a call still in its queue (a call answered keeps its last place, which a
/// consultation's hold must not speak).
fn queue_place(call: &Call) -> Option<(usize, Option<std::time::Duration>)> {
    call.position
        .filter(|_| matches!(call.state, CallState::Waiting { .. }))
}

/// The window of one input report.
pub(crate) const WINDOW: std::time::Duration = std::time::Duration::from_secs(1);
