//! Cache look-up throughput (keys/s) through `Store::get_results` (batched
//! multi-get, expiry check and bincode decoding of each value) against raw
//! RocksDB multi-get of the same keys (no decoding) in the same run.
//!
//! Run: `scripts/bench cache` (or `cargo bench --bench cache`).
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use verdict_actors::{Finding, StoredVerdict, Verdict};
use verdict_storage::{ResultKey, Store, StoreOptions};

const KEYS: usize = 200_000;
const BATCH: usize = 1024;

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path(), &StoreOptions::default()).unwrap();
    let passed = StoredVerdict::from(&Verdict::Passed);
    let findings = StoredVerdict::from(&Verdict::Findings {
        findings: vec![Finding::error(Some(3), Some(7), "trailing whitespace")],
    });
    let keys: Vec<ResultKey> = (0..KEYS as u128)
        .map(|i| ResultKey::from_hashes(i % 11, xxhash_rust::xxh3::xxh3_128(&i.to_le_bytes())))
        .collect();
    let now = 1_000_000;
    for chunk in keys.chunks(10_000) {
        let entries: Vec<(ResultKey, &StoredVerdict, u64)> =
            chunk.iter().enumerate().map(|(i, k)| (*k, if i % 10 == 0 { &findings } else { &passed }, 0)).collect();
        store.put_results(&entries, now).unwrap();
    }
    store.flush().unwrap();
    let run = |f: &dyn Fn(&[ResultKey]) -> usize| -> Duration {
        let t = Instant::now();
        let mut hits = 0;
        for batch in keys.chunks(BATCH) {
            hits += f(batch);
        }
        assert_eq!(hits, KEYS);
        t.elapsed()
    };
    // Warm the block cache once, then take the best of three.
    run(&|b| store.get_results::<StoredVerdict>(b, now).iter().filter(|v| v.is_some()).count());
    let best = |f: &dyn Fn(&[ResultKey]) -> usize| (0..3).map(|_| run(f)).min().unwrap();
    let ours = best(&|b| store.get_results::<StoredVerdict>(b, now).iter().filter(|v| v.is_some()).count());
    let raw = best(&|b| store.raw_multi_get_for_bench(b));
    let rate = |d: Duration| KEYS as f64 / d.as_secs_f64();
    println!(
        "cache look-up {KEYS} keys in batches of {BATCH}: get_results {:.0} keys/s | raw multi-get {:.0} keys/s | ratio {:.2}x",
        rate(ours),
        rate(raw),
        rate(raw) / rate(ours)
    );
}
