//! Journal benchmark: what a turn of the call task costs in the store with the fsync policy
//! (WAL, `synchronous=FULL`, one transaction per turn), by the number of changes in the turn;
//! and the store's part of a restart with 10,000 calls waiting (open, read the journal, close
//! what the stop cut short).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput};
use relais_store::{JournalOp, LegRecord, LiveCall, LiveState, Store};

fn dir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("relais-journal-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

fn waiting(call_id: u64) -> LiveCall {
    LiveCall {
        call_id,
        queue: "caf".to_owned(),
        origin_queue: "caf".to_owned(),
        kiosk: format!("borne-{call_id}"),
        site: "mairie".to_owned(),
        priority: 0,
        enqueued_at_ms: 1_767_225_600_000 + call_id as i64,
        state: LiveState::Waiting,
        agent: None,
        answered_at_ms: None,
        ended_at_ms: None,
        attempts: 0,
        legs: vec![LegRecord {
            seq: 0,
            role: "kiosk".to_owned(),
            subject: format!("borne-{call_id}"),
            queue: None,
            joined_at_ms: 1_767_225_600_000 + call_id as i64,
            left_at_ms: 0,
            left_because: String::new(),
            wrap_up_ms: None,
            disposition: None,
        }],
        updated_at_ms: 1_767_225_600_000 + call_id as i64,
    }
}

fn turns(c: &mut Criterion) {
    let path = dir("turns").join("relais.sqlite3");
    let store = Store::open(&path).expect("store");
    let mut group = c.benchmark_group("journal_turn");
    let mut next = 0u64;
    for changes in [1usize, 16, 256] {
        group.throughput(Throughput::Elements(changes as u64));
        group.bench_function(format!("{changes}_changes"), |b| {
            b.iter_batched(
                || {
                    (0..changes)
                        .map(|_| {
                            next += 1;
                            JournalOp::Live(Box::new(waiting(next % 10_000)))
                        })
                        .collect::<Vec<_>>()
                },
                |ops| store.commit_batch(black_box(&ops)).expect("commit"),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn restart(c: &mut Criterion) {
    let path = dir("restart").join("relais.sqlite3");
    {
        let store = Store::open(&path).expect("store");
        let ops: Vec<JournalOp> = (1..=10_000)
            .map(|id| JournalOp::Live(Box::new(waiting(id))))
            .collect();
        store.commit_batch(&ops).expect("10,000 waiting calls");
    }
    let mut group = c.benchmark_group("restart");
    group.sample_size(10);
    group.bench_function("open_and_recover_10000_waiting", |b| {
        b.iter(|| {
            let store = Store::open(&path).expect("store");
            let stopped = store.last_heartbeat().expect("heartbeat").unwrap_or(0);
            let kept = store.close_interrupted(stopped).expect("recover");
            assert_eq!(kept.len(), 10_000);
            black_box(kept)
        });
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    turns(&mut criterion);
    restart(&mut criterion);
    criterion.final_summary();
}
