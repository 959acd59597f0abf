//! Tests against a real RocksDB in a temporary directory.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outcome {
    ok: bool,
    messages: Vec<String>,
    score: i64,
}

fn outcome(n: i64) -> Outcome {
    Outcome { ok: n % 2 == 0, messages: vec![format!("message {n}"), "second".into()], score: n }
}

fn open(dir: &Path) -> Store {
    Store::open(dir, &small_opts()).expect("open store")
}

fn small_opts() -> StoreOptions {
    StoreOptions { block_cache_bytes: 1 << 20, write_buffer_bytes: 1 << 20, ..StoreOptions::default() }
}

fn key(v: u8, c: u8) -> ResultKey {
    ResultKey::new([v; 16], [c; 16])
}

fn raw_result(store: &Store, k: &ResultKey) -> Option<Vec<u8>> {
    store.db.get_cf(store.cf(CF_RESULTS), k.to_bytes()).expect("raw get")
}

fn entry(n: u64) -> StatEntry {
    StatEntry {
        size: n,
        mtime_ns: 1_700_000_000_000_000_000 + i128::from(n),
        ctime_ns: 1_700_000_000_000_000_500 + i128::from(n),
        ino: 1000 + n,
        content_hash: content_hash(&n.to_le_bytes()),
        recorded_at_ns: 1_800_000_000_000_000_000,
        binary: n.is_multiple_of(2),
    }
}

// ----- keys -----

#[test]
fn every_key_component_changes_the_key_bytes() {
    let base = ResultKey::new([1; 16], [2; 16]);
    let bytes = base.to_bytes();
    assert_eq!(bytes.len(), RESULT_KEY_LEN);
    assert_eq!(RESULT_KEY_LEN, 34);
    assert_eq!(bytes[..2], SCHEMA_VERSION.to_be_bytes(), "schema version leads the key");
    assert_eq!(bytes[2..18], [1; 16]);
    assert_eq!(bytes[18..], [2; 16]);

    let mut other_validator = base;
    other_validator.validator[15] ^= 1;
    assert_ne!(other_validator.to_bytes(), bytes);
    let mut other_content = base;
    other_content.content[0] ^= 0x80;
    assert_ne!(other_content.to_bytes(), bytes);
    // Swapping the two hashes is a different key too.
    assert_ne!(ResultKey::new([2; 16], [1; 16]).to_bytes(), bytes);

    assert_eq!(ResultKey::from_bytes(&bytes), Some(base));
    let mut wrong_schema = bytes;
    wrong_schema[..2].copy_from_slice(&SCHEMA_VERSION.wrapping_add(1).to_be_bytes());
    assert_eq!(ResultKey::from_bytes(&wrong_schema), None);
    assert_eq!(ResultKey::from_bytes(&bytes[..33]), None);

    let k = ResultKey::from_hashes(0x0102, u128::MAX);
    assert_eq!(k.validator[14..], [0x01, 0x02], "hashes are stored big-endian");
    assert_eq!(k.content, [0xff; 16]);
}

#[test]
fn content_hash_is_xxh3_128() {
    assert_eq!(content_hash(b"abc"), xxhash_rust::xxh3::xxh3_128(b"abc"));
    assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
}

#[test]
fn prefix_successor_bounds_the_prefix() {
    use crate::key::prefix_successor;
    assert_eq!(prefix_successor(&[0, 1, 0xff]), Some(vec![0, 2]));
    assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    let prefix = crate::key::validator_prefix(&[0xff; 16]);
    let succ = prefix_successor(&prefix).unwrap();
    let max_key = ResultKey::new([0xff; 16], [0xff; 16]).to_bytes();
    assert!(max_key.as_slice() < succ.as_slice());
    assert!(prefix.as_slice() < succ.as_slice());
}

// ----- results -----

#[test]
fn put_then_get_round_trips_in_key_order() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let (a, b, missing) = (key(1, 1), key(1, 2), key(9, 9));
    let (va, vb) = (outcome(1), outcome(2));
    store.put_results(&[(a, &va, 0), (b, &vb, 60)], 1_000).unwrap();

    // Unsorted, with a miss and a duplicate: one output per input, in order.
    let got = store.get_results::<Outcome>(&[b, missing, a, b], 1_000);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0], Some(Cached { value: vb.clone(), created_at: 1_000, expires_at: 1_061 }));
    assert_eq!(got[1], None);
    assert_eq!(got[2], Some(Cached { value: va, created_at: 1_000, expires_at: 0 }));
    assert_eq!(got[3].as_ref().map(|c| &c.value), Some(&vb));
    assert!(store.get_results::<Outcome>(&[], 1_000).is_empty());

    // Overwrite replaces the value.
    store.put_results(&[(a, &outcome(7), 0)], 2_000).unwrap();
    let got = store.get_results::<Outcome>(&[a], 2_000);
    assert_eq!(got[0].as_ref().unwrap().value, outcome(7));
    assert_eq!(got[0].as_ref().unwrap().created_at, 2_000);

    // The stored bytes follow the documented layout.
    let raw = raw_result(&store, &b).unwrap();
    assert_eq!(raw[..8], 1_061u64.to_be_bytes());
    assert_eq!(raw[8..16], 1_000u64.to_be_bytes());
    let payload = bincode::serde::encode_to_vec(&vb, bincode::config::standard()).unwrap();
    assert_eq!(raw[16..], payload[..]);
}

#[test]
fn ttl_keeps_an_entry_at_least_its_ttl_and_zero_never_expires() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let (short, forever) = (key(1, 1), key(1, 2));
    // Stored in second 100, perhaps at 100.99: kept through second 110
    // (at least 10 s, under 11 s).
    store.put_results(&[(short, &outcome(1), 10), (forever, &outcome(2), 0)], 100).unwrap();

    let at = |now| store.get_results::<Outcome>(&[short, forever], now);
    assert!(at(100)[0].is_some());
    assert!(at(110)[0].is_some(), "still valid in the second the TTL may end in");
    assert!(at(111)[0].is_none(), "expired at now + ttl + 1");
    assert!(at(5_000)[0].is_none());
    let forever_hit = &at(u64::MAX)[1];
    assert_eq!(forever_hit.as_ref().map(|c| c.expires_at), Some(0));
    // Expiry alone does not delete (prune does).
    assert!(raw_result(&store, &short).is_some());
    // A huge TTL saturates instead of wrapping around into the past.
    store.put_results(&[(short, &outcome(3), u64::MAX)], 100).unwrap();
    assert_eq!(at(u64::MAX - 1)[0].as_ref().map(|c| c.expires_at), Some(u64::MAX));
}

#[test]
fn prune_deletes_only_expired_entries() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let (soon, later, never) = (key(1, 1), key(1, 2), key(2, 3));
    store.put_results(&[(soon, &outcome(1), 5), (later, &outcome(2), 100), (never, &outcome(3), 0)], 1_000).unwrap();
    assert_eq!(store.prune_expired(1_005).unwrap(), 0);
    assert_eq!(store.prune_expired(1_006).unwrap(), 1);
    assert!(raw_result(&store, &soon).is_none(), "expired entry physically deleted");
    assert!(raw_result(&store, &later).is_some());
    assert!(raw_result(&store, &never).is_some());
    assert_eq!(store.stats().unwrap().result_entries, 2);
    assert_eq!(store.prune_expired(1_006).unwrap(), 0);
    assert_eq!(store.prune_expired(u64::MAX).unwrap(), 1, "only `later` left to expire");
    assert!(raw_result(&store, &never).is_some(), "ttl 0 survives any prune");
}

#[test]
fn prune_works_across_many_batches() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let value = outcome(0);
    let entries: Vec<(ResultKey, &Outcome, u64)> = (0..10_000u32)
        .map(|i| {
            let k = ResultKey::from_hashes(7, u128::from(i));
            (k, &value, if i % 3 == 0 { 0 } else { 10 })
        })
        .collect();
    store.put_results(&entries, 0).unwrap();
    let expired = entries.iter().filter(|e| e.2 != 0).count() as u64;
    assert_eq!(store.prune_expired(11).unwrap(), expired);
    assert_eq!(store.stats().unwrap().result_entries, 10_000 - expired);
}

#[test]
fn undecodable_values_read_as_none_and_are_deleted() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut header = Vec::new();
    header.extend_from_slice(&0u64.to_be_bytes());
    header.extend_from_slice(&5u64.to_be_bytes());
    let with_header = |tail: &[u8]| [header.as_slice(), tail].concat();
    // A string length claiming ~2^63 bytes: must fail on the decode limit,
    // not try to allocate (bincode allocates a string's length up front).
    // Bytes: `false` for `Outcome::ok`, one element in `Outcome::messages`,
    // then that string's u64 length.
    let mut huge_len = vec![0x00, 0x01, 0xfd];
    huge_len.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    // A valid encoding of a shorter value followed by junk.
    let trailing = bincode::serde::encode_to_vec(outcome(1), bincode::config::standard())
        .unwrap()
        .into_iter()
        .chain([1, 2, 3])
        .collect::<Vec<_>>();

    let cases: Vec<(ResultKey, Vec<u8>)> = vec![
        (key(3, 1), vec![0xde, 0xad]),         // shorter than the header
        (key(3, 2), header.clone()),           // header, no payload
        (key(3, 3), with_header(&[0xff; 40])), // garbage payload
        (key(3, 4), with_header(&huge_len)),   // allocation bomb
        (key(3, 5), with_header(&trailing)),   // trailing bytes
    ];
    for (k, v) in &cases {
        store.raw_put_result_for_tests(k, v).unwrap();
    }
    let good = key(3, 9);
    store.put_results(&[(good, &outcome(9), 0)], 5).unwrap();

    let mut keys: Vec<ResultKey> = cases.iter().map(|c| c.0).collect();
    keys.push(good);
    keys.push(cases[2].0); // duplicate of a corrupt key
    let got = store.get_results::<Outcome>(&keys, 5);
    assert_eq!(got.len(), keys.len());
    for (i, (k, _)) in cases.iter().enumerate() {
        assert!(got[i].is_none(), "case {i} must read as a miss");
        assert!(raw_result(&store, k).is_none(), "case {i} must be deleted");
    }
    assert_eq!(got[cases.len()].as_ref().unwrap().value, outcome(9));
    assert!(got[cases.len() + 1].is_none());
    assert!(raw_result(&store, &good).is_some(), "good entry untouched");

    // Decoding as the wrong type is also a miss (and a deletion), not a panic.
    let got = store.get_results::<Vec<u64>>(&[good], 5);
    assert!(got[0].is_none());
    assert!(raw_result(&store, &good).is_none());
}

#[test]
fn oversized_results_are_skipped_not_stored() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    let small = vec![1u8; 4];
    store.put_results(&[(key(1, 1), &big, 0), (key(1, 2), &small, 0)], 1).unwrap();
    let got = store.get_results::<Vec<u8>>(&[key(1, 1), key(1, 2)], 1);
    assert!(got[0].is_none());
    assert_eq!(got[1].as_ref().unwrap().value, small);
}

#[test]
fn clear_results_all_or_one_validator() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let v = outcome(0);
    let (a, b, top) = ([0xaa; 16], [0xbb; 16], [0xff; 16]);
    let mut entries = Vec::new();
    for c in 0..5u8 {
        entries.push((ResultKey::new(a, [c; 16]), &v, 0));
    }
    for c in 0..3u8 {
        entries.push((ResultKey::new(b, [c; 16]), &v, 0));
        entries.push((ResultKey::new(top, [c; 16]), &v, 0));
    }
    store.put_results(&entries, 0).unwrap();

    assert_eq!(store.clear_results(Some(a)).unwrap(), 5);
    let stats = store.stats().unwrap();
    assert_eq!(stats.per_validator.get(&a), None);
    assert_eq!(stats.per_validator.get(&b), Some(&3));
    assert_eq!(stats.per_validator.get(&top), Some(&3));
    assert!(store.get_results::<Outcome>(&[ResultKey::new(a, [0; 16])], 0)[0].is_none());
    assert!(store.get_results::<Outcome>(&[ResultKey::new(b, [0; 16])], 0)[0].is_some());

    assert_eq!(store.clear_results(Some(top)).unwrap(), 3, "all-0xff validator id");
    assert_eq!(store.stats().unwrap().per_validator.get(&b), Some(&3));
    assert_eq!(store.clear_results(Some(a)).unwrap(), 0);

    // Writes after a range delete are visible again.
    store.put_results(&[(ResultKey::new(a, [9; 16]), &v, 0)], 0).unwrap();
    assert_eq!(store.clear_results(None).unwrap(), 4);
    let stats = store.stats().unwrap();
    assert_eq!(stats.result_entries, 0);
    assert!(stats.per_validator.is_empty());
    store.put_results(&[(ResultKey::new(a, [9; 16]), &v, 0)], 0).unwrap();
    assert!(store.get_results::<Outcome>(&[ResultKey::new(a, [9; 16])], 0)[0].is_some());
}

#[test]
fn stats_count_entries_and_bytes() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let empty = store.stats().unwrap();
    assert_eq!(empty.result_entries, 0);
    assert_eq!(empty.stat_index_entries, 0);

    let v = outcome(1);
    let mut entries = Vec::new();
    for c in 0..4u8 {
        entries.push((key(1, c), &v, 0));
    }
    for c in 0..2u8 {
        entries.push((key(2, c), &v, 0));
    }
    store.put_results(&entries, 0).unwrap();
    store.put_stat_index(&[(b"a".as_slice(), entry(1)), (b"b/c".as_slice(), entry(2))]).unwrap();

    let s = store.stats().unwrap();
    assert_eq!(s.result_entries, 6);
    assert_eq!(s.per_validator.len(), 2);
    assert_eq!(s.per_validator[&[1; 16]], 4);
    assert_eq!(s.per_validator[&[2; 16]], 2);
    assert_eq!(s.stat_index_entries, 2);
    // No more than the directory holds (the memtables' arenas, counted
    // once, made it many times that).
    let on_disk = |dir: &Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.metadata().map_or(0, |m| crate::store::disk_bytes(&m)))
            .sum()
    };
    assert!(s.approx_disk_bytes > 0, "the write-ahead log counts before a flush");
    assert!(s.approx_disk_bytes <= on_disk(store.path()), "{} > {}", s.approx_disk_bytes, on_disk(store.path()));

    store.flush().unwrap();
    let before = on_disk(store.path());
    let s = store.stats().unwrap();
    let after = on_disk(store.path());
    assert_eq!(s.result_entries, 6);
    // Every file of the directory: the MANIFEST and RocksDB's own logs too.
    assert!(
        (before.min(after)..=before.max(after)).contains(&s.approx_disk_bytes),
        "{} of {before}",
        s.approx_disk_bytes
    );
}

#[test]
fn the_manifest_is_started_afresh_past_a_few_megabytes() {
    let dir = TempDir::new().unwrap();
    drop(open(dir.path()));
    let options = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("OPTIONS-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("RocksDB writes its options file");
    assert!(options.contains(&format!("max_manifest_file_size={}", crate::store::MAX_MANIFEST_BYTES)), "{options}");
    let reserved = format!("manifest_preallocation_size={}", crate::store::MANIFEST_PREALLOCATION);
    assert!(options.contains(&reserved), "{options}");
}

/// The roll itself, with a limit small enough to pass in a few dozen
/// flushes: the MANIFEST named by `CURRENT` changes, the old one is deleted,
/// and every entry written across the roll is there after a reopen.
#[test]
fn a_manifest_past_its_limit_is_replaced_and_nothing_is_lost() {
    let dir = TempDir::new().unwrap();
    let opts = StoreOptions { max_manifest_bytes: 16 << 10, ..small_opts() };
    let manifests = || -> Vec<(String, u64)> {
        let mut m: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("MANIFEST-"))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
            .collect();
        m.sort();
        m
    };
    let current = || std::fs::read_to_string(dir.path().join("CURRENT")).unwrap().trim().to_owned();
    let store = Store::open(dir.path(), &opts).unwrap();
    let first = current();
    let mut written = 0u8;
    // Each flush adds a version edit of a few hundred bytes.
    while current() == first {
        assert!(written < 250, "no new MANIFEST after {written} flushes: {:?}", manifests());
        written += 1;
        store.put_results(&[(key(written, written), &outcome(i64::from(written)), 0)], 1_000).unwrap();
        store.flush().unwrap();
    }
    assert!(written > 3, "rolled after {written} flushes: the limit is not what rolled it");
    // Obsolete files are deleted in the background; an open deletes them
    // before it returns.
    drop(store);
    let store = Store::open(dir.path(), &opts).unwrap();
    let now = manifests();
    assert_eq!(now.len(), 1, "the old MANIFEST is deleted: {now:?}");
    assert_eq!(now[0].0, current());
    assert!(now[0].1 < 16 << 10, "{now:?}");
    for n in 1..=written {
        let got = store.get_results::<Outcome>(&[key(n, n)], 1_000);
        assert_eq!(got[0].as_ref().map(|c| &c.value), Some(&outcome(i64::from(n))), "entry {n}");
    }
}

#[test]
fn a_batch_writes_every_kind_of_entry_at_once_and_nothing_unless_committed() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let (a, b) = (outcome(1), outcome(2));

    let mut dropped = store.batch();
    dropped.put_file_results(&[(key(1, 1), &a, 0)], 100).unwrap();
    dropped.put_stat_index(&[(b"dropped".as_slice(), entry(9))]).unwrap();
    assert_eq!(dropped.len(), 2);
    drop(dropped);
    assert!(store.get_file_results::<Outcome>(&[key(1, 1)], 100)[0].is_none(), "not committed");
    assert!(store.stat_index_is_empty());

    let mut batch = store.batch();
    assert!(batch.is_empty());
    batch.put_file_results(&[(key(1, 1), &a, 0), (key(1, 2), &b, 60)], 100).unwrap();
    batch.put_results(&[(key(2, 1), &b, 0)], 100).unwrap();
    batch.put_stat_index(&[(b"src/a.rs".as_slice(), entry(1)), (b"src/b.rs".as_slice(), entry(2))]).unwrap();
    // Too large to cache: left out, as `put_results` leaves it out.
    let huge = Outcome { ok: true, messages: vec!["x".repeat(MAX_PAYLOAD_BYTES + 1)], score: 0 };
    batch.put_results(&[(key(2, 2), &huge, 0)], 100).unwrap();
    assert_eq!(batch.len(), 5);
    batch.commit().unwrap();

    let files = store.get_file_results::<Outcome>(&[key(1, 1), key(1, 2)], 100);
    assert_eq!(files[0].as_ref().map(|c| (&c.value, c.expires_at)), Some((&a, 0)));
    assert_eq!(files[1].as_ref().map(|c| (&c.value, c.expires_at)), Some((&b, 161)));
    let results = store.get_results::<Outcome>(&[key(2, 1), key(2, 2)], 100);
    assert_eq!(results[0].as_ref().map(|c| &c.value), Some(&b));
    assert!(results[1].is_none(), "the oversized result is not stored");
    assert_eq!(
        store.get_stats_index(&[b"src/a.rs", b"src/b.rs", b"dropped"]),
        vec![Some(entry(1)), Some(entry(2)), None]
    );
}

// ----- stat index -----

#[test]
fn stat_index_round_trip_batched_misses_and_removal() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let (p1, p2, p3): (&[u8], &[u8], &[u8]) = (b"src/main.rs", b"README.md", b"\xffnot-utf8");
    assert!(store.stat_index_is_empty());
    store.put_stat_index(&[(p1, entry(1)), (p2, entry(2)), (p3, entry(3))]).unwrap();

    let got = store.get_stats_index(&[p2, b"missing", p1, p3, p2]);
    assert_eq!(got, vec![Some(entry(2)), None, Some(entry(1)), Some(entry(3)), Some(entry(2))]);
    assert!(store.get_stats_index(&[]).is_empty());

    store.put_stat_index(&[(p1, entry(10))]).unwrap();
    assert_eq!(store.get_stats_index(&[p1]), vec![Some(entry(10))]);

    store.remove_stat_index(&[p1, b"never-there"]).unwrap();
    assert_eq!(store.get_stats_index(&[p1, p2]), vec![None, Some(entry(2))]);

    // A corrupt stat value is a miss and is deleted.
    store.db.put_cf(store.cf(CF_STAT), p2, [1u8, 2, 3]).unwrap();
    assert_eq!(store.get_stats_index(&[p2]), vec![None]);
    assert!(store.db.get_cf(store.cf(CF_STAT), p2).unwrap().is_none());

    assert!(!store.stat_index_is_empty());
    assert_eq!(store.clear_stat_index().unwrap(), 1);
    assert_eq!(store.get_stats_index(&[p3]), vec![None]);
    assert_eq!(store.stats().unwrap().stat_index_entries, 0);
    assert!(store.stat_index_is_empty());
}

#[test]
fn stat_entry_matches_metadata_and_detects_changes() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"hello").unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    let recorded = unix_now_ns() + 10 * RACY_MARGIN_NS;
    let e = StatEntry::from_metadata(&meta, content_hash(b"hello"), recorded);
    assert_eq!(e.size, 5);
    assert!(e.matches(&meta));
    assert!(!e.is_racy());
    assert!(e.is_clean(&meta));

    std::fs::write(&file, b"hello, world").unwrap();
    let changed = std::fs::metadata(&file).unwrap();
    assert!(!e.matches(&changed), "size change detected");
    assert!(!e.is_clean(&changed));

    let mut other_inode = e;
    other_inode.ino ^= 1;
    assert!(!other_inode.matches(&meta));
    let mut other_mtime = e;
    other_mtime.mtime_ns += 1;
    assert!(!other_mtime.matches(&meta));
    let mut other_ctime = e;
    other_ctime.ctime_ns += 1;
    assert!(!other_ctime.matches(&meta));
}

#[test]
fn racy_clean_rule() {
    let recorded = 1_000 * 1_000_000_000i128;
    let at = |mtime_ns: i128, ctime_ns: i128| StatEntry {
        size: 1,
        mtime_ns,
        ctime_ns,
        ino: 1,
        content_hash: 0,
        recorded_at_ns: recorded,
        binary: false,
    };
    let edge = recorded - RACY_MARGIN_NS;
    assert!(!at(edge - 1, edge - 1).is_racy(), "strictly older than the margin: clean");
    assert!(at(edge, edge - 1).is_racy(), "mtime at the margin: racy");
    assert!(at(recorded, 0).is_racy(), "same-instant mtime: racy");
    assert!(at(recorded + 5, 0).is_racy(), "mtime after recording: racy");
    assert!(at(0, edge).is_racy(), "recent ctime (back-dated mtime): racy");
    assert!(!at(0, 0).is_racy());
    // A racy entry is never clean even if the metadata matches.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    let fresh = StatEntry::from_metadata(&meta, 0, unix_now_ns());
    assert!(fresh.matches(&meta));
    assert!(fresh.is_racy(), "file written just now");
    assert!(!fresh.is_clean(&meta));
}

// ----- open, lock, schema, persistence -----

#[test]
fn a_cache_directory_verdict_makes_is_private_and_one_that_exists_is_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let made = t.path().join("cache/verdict/key");
    drop(open(&made));
    assert_eq!(mode(&made), 0o700);
    assert_eq!(mode(&t.path().join("cache/verdict")), 0o700, "parents it makes too");
    let chosen = t.path().join("chosen");
    std::fs::create_dir(&chosen).unwrap();
    std::fs::set_permissions(&chosen, std::fs::Permissions::from_mode(0o750)).unwrap();
    drop(open(&chosen));
    assert_eq!(mode(&chosen), 0o750);
}

#[test]
fn reopen_after_drop_keeps_data() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(dir.path());
        store.put_results(&[(key(1, 1), &outcome(1), 0)], 10).unwrap();
        store.put_stat_index(&[(b"x".as_slice(), entry(4))]).unwrap();
        // No flush: the WAL alone must carry the data over.
    }
    {
        let store = open(dir.path());
        assert_eq!(store.path(), dir.path());
        let got = store.get_results::<Outcome>(&[key(1, 1)], 10);
        assert_eq!(got[0].as_ref().unwrap().value, outcome(1));
        assert_eq!(store.get_stats_index(&[b"x"]), vec![Some(entry(4))]);
        store.put_results(&[(key(1, 2), &outcome(2), 0)], 10).unwrap();
        store.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().result_entries, 2);
}

#[test]
fn second_open_of_same_directory_is_a_lock_error_naming_the_path() {
    let dir = TempDir::new().unwrap();
    let first = open(dir.path());
    let err = Store::open(dir.path(), &small_opts()).unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    assert!(msg.contains("--data-dir"), "{msg}");
    assert_eq!(err.path(), dir.path());
    drop(first);
    open(dir.path());
}

#[test]
fn incompatible_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(dir.path());
        let stored = store.db.get_cf(store.cf(CF_META), META_SCHEMA_VERSION_KEY).unwrap();
        assert_eq!(stored.as_deref(), Some(SCHEMA_VERSION.to_be_bytes().as_slice()));
        store.db.put_cf(store.cf(CF_META), META_SCHEMA_VERSION_KEY, 99u16.to_be_bytes()).unwrap();
    }
    let err = Store::open(dir.path(), &small_opts()).unwrap_err();
    match &err {
        StorageError::IncompatibleSchema { path, found, expected } => {
            assert_eq!(path, dir.path());
            assert_eq!(*found, 99);
            assert_eq!(*expected, SCHEMA_VERSION);
        }
        other => panic!("expected IncompatibleSchema, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("verdict cache clear"), "{msg}");
    assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
    // The failed open released the lock: destroy works, then a fresh open.
    Store::destroy(dir.path()).unwrap();
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().result_entries, 0);
}

#[test]
fn malformed_schema_record_is_corruption() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(dir.path());
        store.db.put_cf(store.cf(CF_META), META_SCHEMA_VERSION_KEY, [1u8, 2, 3]).unwrap();
    }
    let err = Store::open(dir.path(), &small_opts()).unwrap_err();
    assert!(matches!(err, StorageError::Corruption { .. }), "{err:?}");
    assert!(err.to_string().contains("verdict cache clear"));
}

/// A database whose `CURRENT` was deleted is damaged, and stays so until it
/// is cleared: not opened as an empty one over its files at the second try
/// (an audit saw the first open say to run `cache clear`, and the next
/// quietly start afresh, deleting the old tables).
#[test]
fn a_missing_current_file_is_corruption_each_time_until_cleared() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(dir.path());
        store.put_results(&[(key(1, 1), &outcome(1), 0)], 1_000).unwrap();
        store.flush().unwrap();
    }
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    for _ in 0..2 {
        let err = Store::open(dir.path(), &small_opts()).unwrap_err();
        assert!(matches!(err, StorageError::Corruption { .. }), "{err:?}");
        assert!(err.to_string().contains("CURRENT file is missing"), "{err}");
    }
    Store::destroy(dir.path()).unwrap();
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().result_entries, 0);
    drop(store);
    // A creation cut short before `CURRENT` (a full disk, a kill) leaves a
    // manifest and no data: created anew, as if it were not there.
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "CURRENT"
            || name.ends_with(".log") && name.starts_with(|c: char| c.is_ascii_digit())
            || name.ends_with(".sst")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    assert!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("MANIFEST-"))
    );
    let store = open(dir.path());
    assert_eq!(store.stats().unwrap().result_entries, 0);
}

/// What RocksDB never makes in its directory, and would block on (a FIFO
/// at `CURRENT`: the daemon hung at start, deaf to SIGTERM) or read without
/// end (a link to `/dev/zero`: the daemon aborted), is refused at open as
/// damage, and `cache clear` removes it.
#[test]
fn a_fifo_link_or_huge_file_where_rocksdb_reads_is_damage_that_clear_removes() {
    type Make = fn(&Path);
    let unfit: [(&str, Make); 5] = [
        // (The two that block or never end, last: without the check, the
        // others fail the test first.)
        ("MANIFEST-000099", |p| std::fs::create_dir(p).unwrap()),
        ("CURRENT", |p| std::fs::write(p, vec![b'x'; 100_000]).unwrap()),
        ("000099.sst", |p| drop(std::os::unix::net::UnixListener::bind(p).unwrap())),
        ("CURRENT", |p| nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).unwrap()),
        ("IDENTITY", |p| std::os::unix::fs::symlink("/dev/zero", p).unwrap()),
    ];
    for (name, make) in unfit {
        let dir = TempDir::new().unwrap();
        {
            let store = open(dir.path());
            store.put_results(&[(key(1, 1), &outcome(1), 0)], 1_000).unwrap();
            store.flush().unwrap();
        }
        let at = dir.path().join(name);
        let _ = std::fs::remove_file(&at);
        make(&at);
        let err = Store::open(dir.path(), &small_opts()).unwrap_err();
        assert!(matches!(err, StorageError::Corruption { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(&format!("its {name} is")), "{err}");
        Store::destroy(dir.path()).unwrap();
        assert_eq!(open(dir.path()).stats().unwrap().result_entries, 0, "{name}");
    }
    // Entries of other names are left alone: a directory, a dotfile kept
    // as a link (GNU stow), a `CACHEDIR.TAG` link.
    let dir = TempDir::new().unwrap();
    let elsewhere = TempDir::new().unwrap();
    std::fs::write(elsewhere.path().join("tag"), "Signature: 8a477f597d28d172789f06886806bc55\n").unwrap();
    drop(open(dir.path()));
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("tag"), dir.path().join("CACHEDIR.TAG")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path().join("tag"), dir.path().join(".gitignore")).unwrap();
    drop(open(dir.path()));
    Store::destroy(dir.path()).unwrap();
    assert!(dir.path().join("CACHEDIR.TAG").symlink_metadata().is_ok(), "the user's link is kept");
    // A directory not marked as verdict's with a FIFO at `CURRENT` is not
    // read (RocksDB would block on it): not known to be a cache.
    let foreign = TempDir::new().unwrap();
    nix::unistd::mkfifo(&foreign.path().join("CURRENT"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let err = Store::open(foreign.path(), &small_opts()).unwrap_err();
    assert!(matches!(err, StorageError::NotACache { .. }), "{err:?}");
    assert!(matches!(Store::destroy(foreign.path()), Err(StorageError::NotACache { .. })));
}

#[test]
fn unknown_column_families_do_not_hide_a_schema_mismatch() {
    let dir = TempDir::new().unwrap();
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&opts, dir.path(), [CF_META, "from_the_future"]).unwrap();
        let meta = db.cf_handle(CF_META).unwrap();
        db.put_cf(meta, META_SCHEMA_VERSION_KEY, 3u16.to_be_bytes()).unwrap();
    }
    // A later verdict marks the directory as this one does.
    std::fs::write(dir.path().join(crate::MARKER_FILE), "").unwrap();
    let err = Store::open(dir.path(), &small_opts()).unwrap_err();
    assert!(matches!(err, StorageError::IncompatibleSchema { found: 3, .. }), "{err:?}");
}

#[test]
fn destroy_refuses_an_open_store_and_ignores_a_missing_directory() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    store.put_results(&[(key(1, 1), &outcome(1), 0)], 0).unwrap();
    let err = Store::destroy(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }), "{err:?}");
    drop(store);
    Store::destroy(dir.path()).unwrap();
    assert!(open(dir.path()).get_results::<Outcome>(&[key(1, 1)], 0)[0].is_none());
    Store::destroy(&dir.path().join("does-not-exist")).unwrap();
}

/// A directory with other files in it and no cache of verdict's (a
/// mistyped `--data-dir`, a `[cache] dir` linked to the user's documents)
/// is neither written into nor deleted from, even files that have
/// RocksDB's names. A cache made before the marker existed is known by
/// its column families, and marked.
#[test]
fn a_directory_that_is_not_a_cache_is_neither_used_nor_destroyed() {
    let dir = TempDir::new().unwrap();
    let docs = dir.path().join("Documents");
    std::fs::create_dir(&docs).unwrap();
    for (name, text) in [("LOG", "my notes"), ("CURRENT", "draft"), ("000001.log", "x"), ("thesis.txt", "y")] {
        std::fs::write(docs.join(name), text).unwrap();
    }
    let listing = |d: &Path| {
        let mut names: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    };
    let before = listing(&docs);
    let err = Store::open(&docs, &small_opts()).unwrap_err();
    assert!(matches!(err, StorageError::NotACache { .. }), "{err:?}");
    assert!(err.to_string().contains("--data-dir"), "{err}");
    let err = Store::destroy(&docs).unwrap_err();
    assert!(matches!(err, StorageError::NotACache { .. }), "{err:?}");
    assert_eq!(listing(&docs), before);
    assert_eq!(std::fs::read_to_string(docs.join("LOG")).unwrap(), "my notes");

    // A directory made for the cache ahead of time, with its dotfiles.
    let made = dir.path().join("made");
    std::fs::create_dir(&made).unwrap();
    std::fs::write(made.join(".gitignore"), "*\n").unwrap();
    std::fs::write(made.join("CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55\n").unwrap();
    open(&made).put_results(&[(key(1, 1), &outcome(1), 0)], 0).unwrap();
    assert!(made.join(crate::MARKER_FILE).exists());

    // A cache without the marker, as earlier verdicts made them.
    let old = dir.path().join("old");
    open(&old).put_results(&[(key(1, 1), &outcome(1), 0)], 0).unwrap();
    std::fs::remove_file(old.join(crate::MARKER_FILE)).unwrap();
    assert!(open(&old).get_results::<Outcome>(&[key(1, 1)], 0)[0].is_some());
    assert!(old.join(crate::MARKER_FILE).exists());
    // Destroyed whole, marker and directory.
    Store::destroy(&old).unwrap();
    assert!(!old.exists());
}

#[test]
fn open_creates_nested_directories() {
    let dir = TempDir::new().unwrap();
    let nested = dir.path().join("a/b/cache");
    let store = open(&nested);
    assert_eq!(store.path(), nested);
    assert!(nested.join("CURRENT").exists());
}

#[test]
fn concurrent_readers_and_writers() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..200u8 {
                    let k = key(t, i);
                    store.put_results(&[(k, &outcome(i64::from(i)), 0)], 1).unwrap();
                    let got = store.get_results::<Outcome>(&[k, key(t, i / 2)], 1);
                    assert_eq!(got[0].as_ref().unwrap().value, outcome(i64::from(i)));
                    assert!(got[1].is_some(), "earlier write visible");
                    let path = format!("t{t}/f{i}");
                    store.put_stat_index(&[(path.as_bytes(), entry(u64::from(i)))]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = store.stats().unwrap();
    assert_eq!(s.result_entries, 8 * 200);
    assert_eq!(s.per_validator.len(), 8);
    assert!(s.per_validator.values().all(|&n| n == 200));
    assert_eq!(s.stat_index_entries, 8 * 200);
}

// ----- errors -----

#[test]
fn rocksdb_error_strings_are_classified() {
    let p = Path::new("/data/proj/.verdict");
    let c = |s: &str| StorageError::classify(p, s.to_string());
    assert!(matches!(
        c("IO error: While lock file: /data/proj/.verdict/LOCK: Resource temporarily unavailable"),
        StorageError::Locked { .. }
    ));
    assert!(matches!(
        c("IO error: lock hold by current process, acquire time 1 acquiring thread 2: /x/LOCK: No locks available"),
        StorageError::Locked { .. }
    ));
    // EACCES from fcntl means "held by someone else", not a permission issue.
    assert!(matches!(c("IO error: While lock file: /x/LOCK: Permission denied"), StorageError::Locked { .. }));
    assert!(matches!(
        c("IO error: While appending to file: /x/000012.log: No space left on device"),
        StorageError::NoSpace { .. }
    ));
    assert!(matches!(
        c("IO error: While open a file for appending: /x/000009.log: Permission denied"),
        StorageError::PermissionDenied { .. }
    ));
    // A manifest gone (deleted, or named by a `CURRENT` that lies): as
    // broken as a damaged one, and `cache clear` mends it alike.
    assert!(matches!(
        c(
            "IO error: No such file or directory: While opening a file for sequentially reading: /x/MANIFEST-000005: No such file or directory"
        ),
        StorageError::Corruption { .. }
    ));
    assert!(matches!(
        c(
            "IO error: No such file or directory: While opening a file for sequentially reading: /x/000012.sst: No such file or directory"
        ),
        StorageError::RocksDb { .. }
    ));
    assert!(matches!(
        c("Corruption: block checksum mismatch: stored = 1, computed = 2"),
        StorageError::Corruption { .. }
    ));
    assert!(matches!(c("Invalid argument: whatever"), StorageError::RocksDb { .. }));

    for err in [
        c("IO error: While lock file: /x/LOCK: Resource temporarily unavailable"),
        c("IO error: x: No space left on device"),
        c("IO error: x: Permission denied"),
        c("Corruption: bad"),
        c("Invalid argument: whatever"),
    ] {
        assert!(err.to_string().contains("/data/proj/.verdict"), "message must name the path: {err}");
    }
    assert!(c("Corruption: bad").to_string().contains("verdict cache clear"));
    assert!(c("IO error: x: No space left on device").to_string().contains("free some disk space"));

    let io = StorageError::from_io(p, std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    assert!(matches!(io, StorageError::PermissionDenied { .. }));
}

#[test]
fn unwritable_location_is_reported_with_the_path() {
    // A regular file where the directory should be: fails without root
    // privileges mattering.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    // A file on the way to the cache, and a file at its place: both are
    // said to be no directory, with what to do about it.
    for target in [file.join("cache"), file.clone()] {
        let err = Store::open(&target, &small_opts()).unwrap_err();
        assert!(matches!(err, StorageError::NotADirectory { .. }), "{err:?}");
        assert_eq!(err.path(), target);
        let text = err.to_string();
        assert!(text.contains(&target.display().to_string()), "{text}");
        assert!(text.contains("is not a directory") && text.contains("--data-dir"), "{text}");
    }
}

#[test]
fn file_entries_live_apart_from_results_and_any_clear_drops_them() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let now = 1_000;
    // Same key bytes in both families: they do not see each other.
    store.put_results(&[(key(1, 1), &outcome(1), 0)], now).unwrap();
    store.put_file_results(&[(key(1, 1), &outcome(2), 0), (key(9, 2), &outcome(3), 10)], now).unwrap();
    assert_eq!(store.get_results::<Outcome>(&[key(1, 1)], now)[0].as_ref().unwrap().value, outcome(1));
    let got = store.get_file_results::<Outcome>(&[key(1, 1), key(9, 2), key(9, 3)], now);
    assert_eq!(got[0].as_ref().unwrap().value, outcome(2));
    assert_eq!(got[1].as_ref().unwrap().value, outcome(3));
    assert!(got[2].is_none());
    let stats = store.stats().unwrap();
    assert_eq!((stats.result_entries, stats.file_entries), (1, 2));

    // Expiry and pruning cover file entries too.
    assert!(store.get_file_results::<Outcome>(&[key(9, 2)], now + 11)[0].is_none());
    assert_eq!(store.prune_expired(now + 11).unwrap(), 1);
    assert_eq!(store.stats().unwrap().file_entries, 1);

    // Clearing one validator's results drops every file entry (any of them
    // may hold one of its outcomes) but keeps other validators' results.
    store.put_results(&[(key(2, 1), &outcome(4), 0)], now).unwrap();
    assert_eq!(store.clear_results(Some([1; 16])).unwrap(), 2);
    let stats = store.stats().unwrap();
    assert_eq!((stats.result_entries, stats.file_entries), (1, 0));
    assert!(store.get_results::<Outcome>(&[key(2, 1)], now)[0].is_some());
}

/// Another directory put at the path of an open database (a backup copied
/// back after the first was deleted, both with a `MANIFEST-000005`): the
/// open one, closed, leaves the new one as it was (it used to write a
/// manifest and `CURRENT` there, which made the new one unreadable).
#[test]
fn a_database_whose_directory_was_replaced_leaves_the_new_one_alone() {
    let tmp = TempDir::new().unwrap();
    let (dir, backup) = (tmp.path().join("db"), tmp.path().join("backup"));
    let copy = |from: &Path, to: &Path| {
        assert!(std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap().success());
    };
    {
        let store = open(&dir);
        store.put_results(&[(key(1, 1), &outcome(1), 0)], 0).unwrap();
        store.flush().unwrap();
    }
    copy(&dir, &backup);
    std::fs::remove_dir_all(&dir).unwrap();
    let other = open(&dir);
    other.put_results(&[(key(2, 2), &outcome(2), 0)], 0).unwrap();
    assert!(!other.dir_replaced());
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(other.dir_replaced(), "deleted");
    copy(&backup, &dir);
    assert!(other.dir_replaced(), "replaced");
    // Its writes and its flush go to its own (deleted) directory, or fail.
    let _ = other.put_results(&[(key(3, 3), &outcome(3), 0)], 0);
    let _ = other.flush();
    drop(other);
    let diff = std::process::Command::new("diff").arg("-r").arg(&dir).arg(&backup).output().unwrap();
    assert!(diff.status.success(), "{}", String::from_utf8_lossy(&diff.stdout));
    let store = open(&dir);
    assert_eq!(store.get_results::<Outcome>(&[key(1, 1)], 0)[0].as_ref().map(|c| &c.value), Some(&outcome(1)));
    assert!(store.get_results::<Outcome>(&[key(2, 2)], 0)[0].is_none());
}

/// The write-ahead log reserves space ahead (about 1.1 times the write
/// buffer, once the database is opened again): the stats count it, as it is
/// taken from the disk, not the few bytes written to it.
#[test]
fn stats_count_the_space_the_write_ahead_log_reserves() {
    let dir = TempDir::new().unwrap();
    let opts = StoreOptions { write_buffer_bytes: 64 << 20, ..small_opts() };
    drop(Store::open(dir.path(), &opts).unwrap());
    let store = Store::open(dir.path(), &opts).unwrap();
    store.put_results(&[(key(1, 1), &"x".to_string(), 0)], 1_700_000_000).unwrap();
    let s = store.stats().unwrap();
    assert!(s.approx_disk_bytes >= 64 << 20, "{} bytes", s.approx_disk_bytes);
}

/// A validator's results are found under every id its name was written
/// with, and cleared with them; clearing everything forgets the names too.
#[test]
fn a_validator_is_cleared_under_every_id_its_results_were_written_for() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let v = "verdict".to_string();
    let (a, b, c) = ([0xaa; 16], [0xbb; 16], [0xcc; 16]);
    for (id, name) in [(a, "x"), (b, "x"), (c, "y")] {
        let mut batch = store.batch();
        batch.put_results(&[(ResultKey::new(id, [1; 16]), &v, 0)], 0).unwrap();
        batch.put_validator_name(&id, name);
        batch.commit().unwrap();
    }
    assert_eq!(store.validators_named("x").unwrap(), vec![a, b]);
    assert_eq!(store.clear_validator("x", b).unwrap(), 2);
    assert!(store.validators_named("x").unwrap().is_empty());
    let stats = store.stats().unwrap();
    assert_eq!((stats.per_validator.get(&a), stats.per_validator.get(&c)), (None, Some(&1)));
    assert_eq!(store.validators_named("y").unwrap(), vec![c]);
    store.clear_results(None).unwrap();
    assert!(store.validators_named("y").unwrap().is_empty());
}

/// A cache path that is a file, or a link to nothing, is said to be so
/// (creating a directory over the link said only "file exists").
#[test]
fn a_cache_path_that_is_no_directory_says_what_it_is() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let Err(err) = Store::open(&file, &small_opts()) else { panic!("a file opened as a cache") };
    let err = err.to_string();
    assert!(err.contains("Not a directory") || err.contains("not a directory"), "{err}");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    let Err(err) = Store::open(&link, &small_opts()) else { panic!("a dangling link opened as a cache") };
    let err = err.to_string();
    assert!(err.contains("symbolic link to") && err.contains("nowhere, which does not exist"), "{err}");
}
