//! Many threads writing through one shared store.

use std::sync::Arc;

use relais_store::{AgentStateChange, Store};

use crate::support::{TempDir, answered_call};

const THREADS: u64 = 8;
/// Every write is an fsync'd commit (a few ms on a real disk), so the count is kept modest.
const RECORDS_PER_THREAD: u64 = 50;
/// One agent state change interleaved after every this many calls.
const CALLS_PER_STATE_CHANGE: u64 = 5;

#[test]
fn concurrent_writers_from_threads_all_land() {
    let dir = TempDir::new();
    let store = Arc::new(Store::open(&dir.db()).unwrap());

    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for n in 0..RECORDS_PER_THREAD {
                    let call_id = thread * RECORDS_PER_THREAD + n + 1;
                    let agent = format!("agent-{thread}");
                    let at_ms = i64::try_from(call_id).unwrap();
                    store
                        .record_call(&answered_call(call_id, &agent, at_ms))
                        .unwrap();
                    if n % CALLS_PER_STATE_CHANGE != 0 {
                        continue;
                    }
                    store
                        .record_agent_state(&AgentStateChange {
                            agent,
                            state: "wrap_up".to_owned(),
                            reason: None,
                            at_ms,
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }

    let total = THREADS * RECORDS_PER_THREAD;
    let calls = store.calls_between(i64::MIN, i64::MAX).unwrap();
    let ids: Vec<u64> = calls.iter().map(|call| call.call_id).collect();
    assert_eq!(ids, (1..=total).collect::<Vec<_>>());
    assert_eq!(store.max_call_id().unwrap(), Some(total));
    assert_eq!(
        store
            .agent_states_between(i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        (total / CALLS_PER_STATE_CHANGE) as usize
    );
    assert_eq!(
        store
            .calls_of_agent_between("agent-3", i64::MIN, i64::MAX)
            .unwrap()
            .len(),
        RECORDS_PER_THREAD as usize
    );
}
