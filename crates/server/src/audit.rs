//! The supervision audit log: every start, change of mode and stop of a supervision, written
//! before it takes effect when a supervisor asks for it (a supervision that cannot be audited
//! does not happen), and after the fact when it ends on its own (a closed connection, the end
//! of the call).

use std::sync::Arc;

use relais_proto::{CallId, SupervisionMode};
use relais_store::{AuditEntry, Store};

/// `action` of a supervision that started.
pub const STARTED: &str = "supervision_started";
/// `action` of a change of mode.
pub const MODE_CHANGED: &str = "supervision_mode_changed";
/// `action` of a supervision that ended.
pub const STOPPED: &str = "supervision_stopped";

fn entry(at_ms: i64, actor: &str, action: &str, call: CallId, detail: String) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: format!("call:{}", call.0),
        detail: Some(detail),
    }
}

/// A supervisor starts supervising `call` (of `service`) in `mode` ([`STARTED`]), or switches
/// to `mode` ([`MODE_CHANGED`]).
pub fn mode(
    at_ms: i64,
    actor: &str,
    action: &str,
    call: CallId,
    service: &str,
    mode: SupervisionMode,
) -> AuditEntry {
    entry(
        at_ms,
        actor,
        action,
        call,
        format!("mode={mode}; service={service}"),
    )
}

/// A supervision ends (`why`: requested, disconnected, call ended).
pub fn stopped(
    at_ms: i64,
    actor: &str,
    call: CallId,
    mode: Option<SupervisionMode>,
    why: &str,
) -> AuditEntry {
    let mode = mode.map_or("none", SupervisionMode::as_str);
    entry(
        at_ms,
        actor,
        STOPPED,
        call,
        format!("mode={mode}; reason={why}"),
    )
}

/// Writes `entry` and returns once it is committed.
pub async fn write(store: &Arc<Store>, entry: AuditEntry) -> anyhow::Result<()> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || store.record_audit(&entry)).await??;
    Ok(())
}
