//! The command channel: every method, every error code, and abuse —
//! garbage, invalid UTF-8, huge lines, pipelining, many connections, a
//! client that never reads — with a fresh client answered throughout.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use verdict::protocol::code;

use crate::support::{Env, Raw, error_code, hello_params, memory_kb, wait_until};

/// A connection to the daemon once it is the only one: the daemon frees a
/// closed connection's slot when it sees it close, a moment after the
/// client that used it has exited.
fn only_connection(env: &Env) -> Raw {
    // With `max_connections = 1`, the slot may still be the starting
    // client's: refused as busy (and closed) until it is given back.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        let mut c = Raw::connect(&env.socket());
        let id = c.send("hello", hello_params());
        let answer = std::iter::from_fn(|| c.read()).find(|m| m["id"] == json!(id) || m.get("error").is_some());
        match answer {
            Some(m) if m.get("result").is_some() => break c,
            Some(m) if error_code(&m) == Some(code::BUSY) => {}
            None => {}
            Some(m) => panic!("hello failed: {m}"),
        }
        assert!(Instant::now() < deadline, "the daemon's only connection slot was never free");
        std::thread::sleep(Duration::from_millis(20));
    };
    wait_until(Duration::from_secs(10), "the other connections to close", || {
        c.call("status", json!({}))["result"]["connections"].as_u64() == Some(1)
    });
    c
}

/// A fresh connection's `ping` is answered within five seconds: prompt on a
/// loaded machine, where being held behind a client that does not read
/// would take `WRITE_TIMEOUT` (10 s).
fn fresh_ping_is_prompt(env: &Env) {
    let t = Instant::now();
    let mut c = env.connect();
    let r = c.call("ping", json!({}));
    assert_eq!(r["result"]["pong"], true, "{r}");
    assert!(t.elapsed() < Duration::from_secs(5), "fresh ping took {:?}", t.elapsed());
}

/// With `stream_outcomes`, a check's outcomes come ahead of its reply in
/// `check/outcomes` notifications (about 1 MiB each), and the reply says how
/// many: the same outcomes, in the same order, as a reply that lists them,
/// whether computed, cached or the previous run's answer.
#[test]
fn streamed_outcomes_are_the_listed_ones() {
    let env = Env::new();
    // At least 1.26 MB of outcomes: well past one notification's 1 MiB.
    // (1,200 files made 1.01 MB computed, more when files of the same bytes
    // were answered from the cache their first copy had just filled, which
    // depends on the order the run got to them: under load, one notification.)
    for i in 0..1500 {
        env.write(&format!("d{}/f{i}.txt", i % 10), if i % 5 == 0 { "x  \n" } else { "x\n" });
    }
    env.start();
    let mut c = env.connect();
    let streamed = |c: &mut Raw| -> (Value, Vec<Value>, usize) {
        let id = c.send("check", json!({ "all_outcomes": true, "stream_outcomes": true }));
        let (reply, notes) = c.reply(id);
        let chunks: Vec<&Value> = notes.iter().filter(|n| n["method"] == "check/outcomes").collect();
        let mut outcomes = Vec::new();
        for n in &chunks {
            assert_eq!(n["params"]["request"], json!(id));
            outcomes.extend(n["params"]["outcomes"].as_array().unwrap().iter().cloned());
        }
        let report = reply["result"].clone();
        assert_eq!(report["outcomes"], json!([]), "{reply}");
        assert_eq!(report["streamed_outcomes"], json!(outcomes.len()));
        (report, outcomes, chunks.len())
    };
    let pairs = |outcomes: &[Value]| -> Vec<(String, String)> {
        outcomes.iter().map(|o| (o["file"].to_string(), o["validator"].to_string())).collect()
    };
    let (cold, cold_outcomes, chunks) = streamed(&mut c);
    let bytes = serde_json::to_string(&cold_outcomes).unwrap().len();
    assert!(chunks >= 2, "{chunks} notifications for {} outcomes, {bytes} bytes", cold_outcomes.len());
    // A check says at once that it started (a client whose daemon dies
    // after that does not make it again).
    let id = c.send("check", json!({}));
    let (_, notes) = c.reply(id);
    assert_eq!(notes[0]["method"], "check/progress", "{notes:?}");
    assert_eq!((&notes[0]["params"]["done"], &notes[0]["params"]["request"]), (&json!(0), &json!(id)), "{notes:?}");
    assert_eq!(cold["summary"]["pairs"], json!(cold_outcomes.len()));
    assert!(cold_outcomes.iter().any(|o| o["outcome"]["status"] == "passed"), "computed");
    let listed = c.call("check", json!({ "all_outcomes": true }))["result"].clone();
    assert!(listed.get("streamed_outcomes").is_none(), "{}", listed["summary"]);
    let listed = listed["outcomes"].as_array().unwrap().clone();
    assert_eq!(pairs(&listed), pairs(&cold_outcomes));
    assert!(listed.iter().all(|o| o["outcome"]["status"] == "cached"));
    // Answered from the previous run too.
    let (warm, warm_outcomes, _) = streamed(&mut c);
    assert_eq!(warm["summary"]["unchanged"], true, "{}", warm["summary"]);
    assert_eq!(warm_outcomes, listed);
    // Updated from it (one directory listed again): its remembered rows and
    // the new ones, in the report's order, as a fresh check lists them.
    env.write("d3/f3.txt", "now  \n");
    env.write("d3/new.txt", "x\n");
    let (inc, inc_outcomes, _) = streamed(&mut c);
    assert_eq!(inc["summary"]["incremental"], true, "{}", inc["summary"]);
    let fresh = c.call("check", json!({ "all_outcomes": true, "no_cache": true }))["result"]["outcomes"].clone();
    let fresh = fresh.as_array().unwrap();
    assert_eq!(pairs(&inc_outcomes), pairs(fresh));
    let status = |outcomes: &[Value], file: &str| -> Vec<String> {
        outcomes.iter().filter(|o| o["file"] == file).map(|o| o["outcome"]["status"].to_string()).collect()
    };
    assert!(status(&inc_outcomes, "d3/f3.txt").contains(&"\"findings\"".to_owned()), "the edit is seen");
    assert_eq!(status(&inc_outcomes, "d3/f3.txt"), status(fresh, "d3/f3.txt"));
}

#[test]
fn every_basic_method_answers() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    assert_eq!(c.call("ping", json!({}))["result"]["pong"], true);
    let s = c.call("status", json!({}))["result"].clone();
    for key in
        ["pid", "version", "uptime_ms", "project_root", "config_path", "connections", "validators", "breakers", "cache"]
    {
        assert!(s.get(key).is_some(), "status lacks {key}: {s}");
    }
    // No verdict.toml: the defaults, valid, as `verdict config check` says.
    let r = c.call("config.check", json!({}));
    assert_eq!((&r["result"]["valid"], &r["result"]["defaults"]), (&json!(true), &json!(true)), "{r}");
    // A relative path is the project root's; one that is missing is invalid.
    env.write(
        "conf/new.toml",
        "[validators.lint]\nkind = \"command\"\ncommand = [\"x\"]\nfiles = [\"*\"]\ntimeout = \"3x\"\n",
    );
    let r = c.call("config.check", json!({ "path": "conf/new.toml" }));
    let errors = r["result"]["errors"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert!(errors.len() == 1 && errors[0].as_str().unwrap().contains("new.toml:5:11: validators.lint.timeout"), "{r}");
    let r = c.call("config.check", json!({ "path": "conf/missing.toml" }));
    assert_eq!(r["result"]["valid"], false, "{r}");
    let r = c.call("restart", json!({ "name": "trailing-whitespace" }));
    assert_eq!(r["result"]["restarted"], true, "{r}");
    let r = c.call("restart", json!({ "name": "nope" }));
    assert_eq!(error_code(&r), Some(code::NOT_FOUND));
    let r = c.call("reload", json!({}));
    assert!(r["result"]["unchanged"].as_array().is_some_and(|u| !u.is_empty()), "{r}");
    // Notifications (no id) get no reply; the next request still does.
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n");
    assert_eq!(c.call("ping", json!({}))["result"]["pong"], true);
    let r = c.call("shutdown", json!({}));
    assert_eq!(r["result"]["stopping"], true);
    assert_eq!(r["result"]["grace_ms"], 10_000, "the default grace period: {r}");
}

#[test]
fn standard_error_codes() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    c.send_raw(b"this is not json\n");
    let r = c.read().unwrap();
    assert_eq!(error_code(&r), Some(code::PARSE_ERROR));
    assert_eq!(r["id"], Value::Null);
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":\"\xff\xfe\"}\n");
    assert_eq!(error_code(&c.read().unwrap()), Some(code::PARSE_ERROR), "invalid UTF-8 is a parse error");
    c.send_raw(b"[1,2,3]\n");
    assert_eq!(error_code(&c.read().unwrap()), Some(code::INVALID_REQUEST));
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\",\"params\":[1]}\n");
    let r = c.read().unwrap();
    assert_eq!((error_code(&r), r["id"].clone()), (Some(code::INVALID_REQUEST), json!(8)));
    let r = c.call("frobnicate", json!({}));
    assert_eq!(error_code(&r), Some(code::METHOD_NOT_FOUND));
    let r = c.call("restart", json!({ "name": 42 }));
    assert_eq!(error_code(&r), Some(code::INVALID_PARAMS));
    assert_eq!(r["error"]["data"]["field"], "name", "{r}");
    let r = c.call("check", json!({ "paths": "not-a-list" }));
    assert_eq!(r["error"]["data"]["field"], "paths", "{r}");
    let r = c.call("cancel", json!({ "id": 999 }));
    assert_eq!(error_code(&r), Some(code::NOT_FOUND));
    // Unknown fields are ignored.
    let r = c.call("ping", json!({ "from_the_future": true }));
    assert_eq!(r["result"]["pong"], true);
    // The connection survived all of it.
    fresh_ping_is_prompt(&env);
}

#[test]
fn handshake_errors() {
    let env = Env::new();
    env.start();
    let mut c = Raw::connect(&env.socket());
    assert_eq!(error_code(&c.call("status", json!({}))), Some(code::HELLO_REQUIRED));
    let r = c.call("hello", json!({ "protocol": 999, "version": "9.9.9" }));
    assert_eq!(error_code(&r), Some(code::PROTOCOL_VERSION_MISMATCH));
    assert_eq!(r["error"]["data"]["protocol"], verdict::protocol::PROTOCOL_VERSION);
    // A version past 32 bits is a version this daemon does not speak too.
    let r = c.call("hello", json!({ "protocol": 1u64 << 32 | 1, "version": "9.9.9" }));
    assert_eq!(error_code(&r), Some(code::PROTOCOL_VERSION_MISMATCH), "{r}");
    let r = c.call("hello", json!({ "version": "x" }));
    assert_eq!(error_code(&r), Some(code::INVALID_PARAMS));
    assert_eq!(r["error"]["data"]["field"], "protocol");
    assert!(c.call("hello", hello_params()).get("result").is_some());
}

/// An empty filter list would select no validator (not all of them); a
/// duplicate id is refused without settling the request that holds it.
#[test]
fn empty_filters_and_duplicate_ids_are_refused_without_misleading() {
    let env = Env::with_slow_validator("30", "1s");
    env.start();
    let mut c = env.connect();
    for field in ["validators", "dimensions"] {
        let r = c.call("check", json!({ field: [] }));
        assert_eq!(error_code(&r), Some(code::INVALID_PARAMS), "{r}");
        assert_eq!(r["error"]["data"]["field"], field, "{r}");
    }
    // null is left out: every validator, here the one there is.
    let r = c.call("check", json!({ "validators": null, "dimensions": null, "paths": ["verdict.toml"] }));
    assert_eq!(r["result"]["validators"].as_array().map(Vec::len), Some(1), "{r}");

    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":500,\"method\":\"check\",\"params\":{\"no_cache\":true}}\n");
    c.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":500,\"method\":\"ping\"}\n");
    let refused = loop {
        let m = c.read().expect("an answer");
        if m.get("method").is_none() {
            break m;
        }
    };
    assert_eq!(error_code(&refused), Some(code::INVALID_REQUEST), "{refused}");
    assert_eq!((&refused["id"], &refused["error"]["data"]["id"]), (&Value::Null, &json!(500)), "{refused}");
    // So are the requests answered at once, `hello` and `cancel`.
    for (method, params) in [("hello", hello_params()), ("cancel", json!({ "id": 500 }))] {
        let line = json!({ "jsonrpc": "2.0", "id": 500, "method": method, "params": params });
        c.send_raw(format!("{line}\n").as_bytes());
    }
    for _ in 0..2 {
        let refused = loop {
            let m = c.read().expect("an answer");
            if m.get("method").is_none() {
                break m;
            }
        };
        assert_eq!((&refused["id"], &refused["error"]["data"]["id"]), (&Value::Null, &json!(500)), "{refused}");
    }
    // The check holding id 500 goes on: cancelled, it answers as itself.
    let r = c.call("cancel", json!({ "id": 500 }));
    assert!(r.get("result").is_some(), "{r}");
    let (check, _) = c.reply(500);
    assert_eq!(error_code(&check), Some(code::CANCELLED), "{check}");
}

#[test]
fn a_relative_cwd_is_refused_by_name() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    let r = c.call("check", json!({ "cwd": "sub", "paths": ["."] }));
    assert_eq!(error_code(&r), Some(code::INVALID_PARAMS), "{r}");
    assert_eq!(r["error"]["data"]["field"], "cwd", "{r}");
    // One that is missing, or not a directory, is named as such too.
    let file = env.write("f.txt", "x\n");
    for cwd in [env.tmp.path().join("missing"), file] {
        let r = c.call("check", json!({ "cwd": cwd, "paths": ["."] }));
        assert_eq!(error_code(&r), Some(code::INVALID_PARAMS), "{r}");
        assert_eq!(r["error"]["data"]["field"], "cwd", "{r}");
    }
}

#[test]
fn an_oversized_line_is_refused_and_the_daemon_is_unaffected() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    let mut big = vec![b'x'; 5 * 1024 * 1024];
    big.push(b'\n');
    // The daemon may close before reading it all: ignore a broken pipe.
    let _ = c.stream.write_all(&big);
    let r = c.read().expect("an error before the close");
    assert_eq!(error_code(&r), Some(code::REQUEST_TOO_LARGE));
    assert!(c.is_closed(), "the connection is closed after an oversized line");
    fresh_ping_is_prompt(&env);
    // A client that writes a whole request a little over the limit, then
    // reads, gets the error too: the daemon reads the rest of the line
    // before it closes (closing with unread data would reset the
    // connection, and the error with it).
    for over in [1, 100_000, 1_000_000] {
        let mut c = env.connect();
        let head = br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":""#;
        let mut line = head.to_vec();
        line.resize(4 * 1024 * 1024 + over - 3, b'a');
        line.extend_from_slice(b"\"}}\n");
        c.stream.write_all(&line).unwrap_or_else(|e| panic!("over by {over}: the write failed: {e}"));
        let r = c.read().unwrap_or_else(|| panic!("over by {over}: no error before the close"));
        assert_eq!(error_code(&r), Some(code::REQUEST_TOO_LARGE), "over by {over}: {r}");
        assert!(c.is_closed(), "over by {over}: the connection is closed after the error");
    }
}

#[test]
fn unfinished_large_lines_share_a_bounded_budget() {
    let env = Env::new();
    env.start();
    let pid = env.json(&["status"])["pid"].as_u64().unwrap();
    let (base, _) = memory_kb(pid);
    // Sixty-four clients each send just under the 4 MiB line limit and
    // never end the line: 256 MiB the daemon would hold if each line could
    // grow on its own. Lines past 64 KiB share a 64 MiB budget instead
    // (about 90 MiB of growth in all, with the connections' buffers).
    let head = br#"{"jsonrpc":"2.0","id":1,"method":"hello","params":"#;
    let body = vec![b'x'; 4 * 1024 * 1024 - head.len() - 16];
    // The connections stay open here while the writers send.
    let mut held = Vec::new();
    let writers: Vec<_> = (0..64)
        .map(|_| {
            let mut c = Raw::connect(&env.socket());
            held.push(c.stream.try_clone().unwrap());
            let mut line = head.to_vec();
            line.extend_from_slice(&body);
            // Blocks once the daemon stops reading; fails when it closes.
            std::thread::spawn(move || {
                let _ = c.stream.write_all(&line);
            })
        })
        .collect();
    // Wait until the daemon has taken in what it will: every line sent (as
    // happens without a budget), or its memory steady for a second.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = 0;
    let mut still = 0;
    while Instant::now() < deadline && still < 10 && !writers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        let (_, rss) = memory_kb(pid);
        still = if rss.abs_diff(last) < 1024 { still + 1 } else { 0 };
        last = rss;
    }
    let (peak, _) = memory_kb(pid);
    let grew_mib = peak.saturating_sub(base) / 1024;
    assert!(grew_mib < 144, "the daemon grew by {grew_mib} MiB holding 64 unfinished 4 MiB lines");
    // Small requests still go through meanwhile.
    fresh_ping_is_prompt(&env);
    // The writers still blocked end when the daemon closes their connections.
    env.run_ok(&["stop"], 0);
    drop(held);
}

#[test]
fn idle_connections_do_not_keep_a_large_request_buffer() {
    let env = Env::new();
    env.start();
    let pid = env.json(&["status"])["pid"].as_u64().unwrap();
    let (base, _) = memory_kb(pid);
    // Sixty-four clients each send one complete request of nearly 4 MiB
    // (a `hello` with a bulky field, refused or answered alike), then idle.
    let big = "x".repeat(4 * 1024 * 1024 - 256);
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut c = Raw::connect(&env.socket());
        let line = json!({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": {"bulk": big}});
        c.send_raw(format!("{line}\n").as_bytes());
        assert!(c.read().is_some(), "an answer to each");
        held.push(c);
    }
    // Every line was read and answered; a buffer kept per idle connection
    // would hold 256 MiB now, all of them under the line budget's radar.
    let (_, now) = memory_kb(pid);
    let held_mib = now.saturating_sub(base) / 1024;
    assert!(held_mib < 96, "64 idle connections hold {held_mib} MiB after one large request each");
    fresh_ping_is_prompt(&env);
    drop(held);
}

#[test]
fn garbage_bytes_do_not_hurt() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let _ = c.stream.write_all(&garbage);
    let _ = c.stream.write_all(b"\n");
    fresh_ping_is_prompt(&env);
    drop(c);
    fresh_ping_is_prompt(&env);
}

#[test]
fn a_thousand_pipelined_requests_on_one_connection() {
    let env = Env::new();
    env.start();
    let mut c = env.connect();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend_from_slice(
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}}\n", 10_000 + i).as_bytes(),
        );
    }
    c.send_raw(&batch);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let m = c.read().unwrap();
        assert_eq!(m["result"]["pong"], true, "{m}");
        seen.insert(m["id"].as_i64().unwrap());
    }
    assert_eq!(seen.len(), 1000);
}

#[test]
fn three_hundred_concurrent_connections() {
    let env = Env::new();
    env.start();
    // The start's own connection frees its slot once the daemon has seen it
    // close: this one, the first of 300, waits for that.
    let first = only_connection(&env);
    let socket = env.socket();
    // Hold 300 connections open at once: 256 are served, the rest are
    // told `busy` and closed.
    let mut conns: Vec<Raw> = (1..300).map(|_| Raw::connect(&socket)).collect();
    let (mut served, mut busy) = (1, 0);
    for c in conns.iter_mut() {
        // A refused connection may be closed before our request arrives.
        let line = format!("{}\n", json!({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": hello_params()}));
        let _ = c.stream.write_all(line.as_bytes());
        let id = 1;
        let m = c.read().expect("a reply");
        if m["id"] == json!(id) && m.get("result").is_some() {
            served += 1;
        } else {
            assert_eq!(error_code(&m), Some(code::BUSY), "{m}");
            busy += 1;
        }
    }
    assert_eq!((served, busy), (256, 44));
    // Closing some frees their slots for fresh clients.
    conns.truncate(99);
    drop(first);
    // Their slots are free once the daemon has seen them close.
    wait_until(Duration::from_secs(10), "closed connections' slots to be freed", || {
        conns[0].call("status", json!({}))["result"]["connections"].as_u64() < Some(256)
    });
    fresh_ping_is_prompt(&env);
    for c in conns.iter_mut().take(10) {
        assert_eq!(c.call("ping", json!({}))["result"]["pong"], true);
    }
}

#[test]
fn a_client_that_never_reads_cannot_block_others() {
    let env = Env::new();
    env.start();
    let mut hog = env.connect();
    hog.stream.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let line = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n";
    // Keep writing requests and never read a reply, until the kernel
    // buffers are full and our writes block.
    let mut sent = 0usize;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let mut chunk = Vec::new();
        for i in 0..100 {
            chunk.extend_from_slice(&line[..line.len()]);
            let _ = i;
        }
        if hog.stream.write_all(&chunk).is_err() {
            break;
        }
        sent += 100;
    }
    assert!(sent > 0);
    fresh_ping_is_prompt(&env);
    fresh_ping_is_prompt(&env);
    // Eventually the daemon gives up on the hog; reading now finds the
    // stream ends (after whatever replies were buffered).
    drop(hog);
    fresh_ping_is_prompt(&env);
}

#[test]
fn an_idle_connection_is_closed() {
    let env = Env::new();
    // Long enough that no stall of this test between connecting and its
    // hello is taken for idleness.
    env.write("verdict.toml", "[daemon]\nidle_timeout = \"2s\"\n");
    env.start();
    let mut c = env.connect();
    let mut buf = [0u8; 16];
    c.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(c.stream.read(&mut buf).unwrap(), 0, "an idle connection stays open");
    fresh_ping_is_prompt(&env);
}

#[test]
fn a_connection_idle_after_its_requests_is_closed_too() {
    let env = Env::new();
    // Long enough that no stall of this test between two requests is taken
    // for idleness.
    env.write("verdict.toml", "[daemon]\nidle_timeout = \"2s\"\n");
    env.start();
    let mut c = env.connect();
    // Its requests were answered; it says nothing more. (Before, a request
    // still in flight when the next read began turned the idle timeout off
    // for the connection's life.)
    assert!(c.call("ping", json!({})).get("result").is_some());
    assert!(c.call("status", json!({})).get("result").is_some());
    let waited = Instant::now();
    c.stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    assert!(c.is_closed(), "still open");
    assert!(waited.elapsed() < Duration::from_secs(10), "closed only after {:?}", waited.elapsed());
    fresh_ping_is_prompt(&env);
}

#[test]
fn a_client_gone_while_its_requests_fill_every_slot_has_them_cancelled() {
    // A duration no other process on the machine is likely to sleep for:
    // the process table is looked at below.
    let env = Env::with_slow_validator("20.0419", "5s");
    env.start();
    let mut c = env.connect();
    // 64 run at once; the 65th waits for a slot, and the reading of the
    // connection with it.
    for _ in 0..65 {
        c.send("check", json!({ "no_cache": true }));
    }
    let running = || {
        let out = std::process::Command::new("pgrep").args(["-f", r"^sleep 20\.0419$"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let waited = Instant::now();
    while running() == 0 {
        assert!(waited.elapsed() < Duration::from_secs(10), "the checks never started their tool");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    let gone = Instant::now();
    while running() > 0 {
        assert!(gone.elapsed() < Duration::from_secs(5), "{} tools still run after the client left", running());
        std::thread::sleep(Duration::from_millis(20));
    }
    fresh_ping_is_prompt(&env);
}

#[test]
fn shutting_down_and_cancelled_codes() {
    // A long grace: it ends as soon as the requests in flight are done.
    let env = Env::with_slow_validator("3", "60s");
    env.start();
    let mut c = env.connect();
    let mut other = env.connect();
    let in_flight = |other: &mut Raw| {
        wait_until(Duration::from_secs(10), "the check to be in flight", || {
            other.call("status", json!({}))["result"]["requests_in_flight"].as_u64() >= Some(1)
        })
    };
    // cancel: a running check ends with `cancelled`.
    let id = c.send("check", json!({}));
    in_flight(&mut other);
    let r = c.call("cancel", json!({ "id": id }));
    assert_eq!(r["result"]["cancelled"], true, "{r}");
    let (reply, _) = c.reply(id);
    assert_eq!(error_code(&reply), Some(code::CANCELLED), "{reply}");
    // shutting down: a request arriving during the grace period is refused.
    wait_until(Duration::from_secs(10), "the cancelled check to be over", || {
        other.call("status", json!({}))["result"]["requests_in_flight"].as_u64() == Some(0)
    });
    let id = c.send("check", json!({}));
    in_flight(&mut other);
    assert_eq!(other.call("shutdown", json!({}))["result"]["stopping"], true);
    std::thread::sleep(Duration::from_millis(100));
    let r = other.call("ping", json!({}));
    assert_eq!(error_code(&r), Some(code::SHUTTING_DOWN), "{r}");
    // Refused before it started: a client may ask the next daemon.
    assert_eq!(r["error"]["data"]["started"], false, "{r}");
    let (reply, _) = c.reply(id);
    assert!(reply.get("result").is_some(), "the check finished within the grace period: {reply}");
}

#[test]
fn invalid_configuration_on_reload_keeps_the_old_one() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = true\n");
    env.start();
    let mut c = env.connect();
    env.write("verdict.toml", "builtins = true\n[validators.bad]\nkind = \"command\"\ncommand = []\n");
    let r = c.call("reload", json!({}));
    assert_eq!(error_code(&r), Some(code::INVALID_CONFIGURATION), "{r}");
    let errors = r["error"]["data"]["errors"].as_array().unwrap();
    assert!(errors.iter().any(|e| e.as_str().unwrap().contains("validators.bad")), "{r}");
    // Still serving the old configuration.
    let s = c.call("status", json!({}));
    assert!(s["result"]["validators"].as_array().unwrap().iter().all(|v| v["name"] != "bad"));
    // The CLI says the same, with exit code 2.
    let out = env.run(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("validators.bad"));
    // And the log says it was refused, once per request, with why (read
    // whole once the daemon has stopped: its writer is a background thread,
    // and a line may reach the file after the CLI has its reply).
    let log = env.log_after_stop();
    let refused: Vec<&str> = log.lines().filter(|l| l.contains("reload rejected")).collect();
    assert_eq!(refused.len(), 2, "{log}");
    assert!(refused.iter().all(|l| l.contains("validators.bad")), "{log}");
}

#[test]
fn a_verdict_toml_that_is_not_a_file_is_refused_not_taken_for_the_defaults() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = false\n[validators.utf8]\n");
    env.start();
    let mut c = env.connect();
    let names = |c: &mut Raw| -> Vec<String> {
        let s = c.call("status", json!({}));
        s["result"]["validators"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&mut c), ["utf8"]);
    let config = env.project.join("verdict.toml");
    for make in ["fifo", "directory"] {
        std::fs::remove_file(&config).ok();
        std::fs::remove_dir(&config).ok();
        match make {
            "fifo" => nix::unistd::mkfifo(&config, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap(),
            _ => std::fs::create_dir(&config).unwrap(),
        }
        let r = c.call("reload", json!({}));
        assert_eq!(error_code(&r), Some(code::INVALID_CONFIGURATION), "{make}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("not a regular file"), "{make}: {r}");
        assert_eq!(names(&mut c), ["utf8"], "{make}: the old configuration stays in force");
        // A check notices the change too, and fails the same way.
        let out = env.run(&["check", "."]);
        assert_eq!(out.status.code(), Some(2), "{make}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"), "{make}");
    }
}

#[test]
fn overlapping_reloads_leave_the_newest_file_in_force() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = false\n[validators.json]\n");
    env.start();
    // The first file's validator has a version command that announces
    // itself, then takes a second: its reload is under way meanwhile.
    let v1 = "builtins = false\n[validators.slowver]\nkind = \"command\"\nfiles = [\"*.x\"]\n\
              command = [\"true\"]\nversion = [\"sh\", \"-c\", \"touch version-ran; sleep 1; echo 1.0\"]\n";
    env.write("verdict.toml", v1);
    let first = {
        let mut c = env.connect();
        std::thread::spawn(move || c.call("reload", json!({})))
    };
    let marker = env.project.join("version-ran");
    let waited = Instant::now();
    while !marker.exists() {
        assert!(waited.elapsed() < Duration::from_secs(20), "the first reload never ran its version command");
        std::thread::sleep(Duration::from_millis(10));
    }
    env.write("verdict.toml", "builtins = false\n[validators.yaml]\n");
    let mut c = env.connect();
    let second = c.call("reload", json!({}));
    assert!(second.get("result").is_some(), "{second}");
    let first = first.join().unwrap();
    assert!(first.get("result").is_some(), "{first}");
    let s = c.call("status", json!({}));
    let names: Vec<&str> =
        s["result"]["validators"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["yaml"], "the file says yaml only: {s}");
}

#[test]
fn checks_that_start_after_one_edit_reload_it_once() {
    let env = Env::new();
    // Each run of the version command leaves a line in `runs`.
    let config = |dimension: &str| {
        format!(
            "builtins = false\n[validators.tool]\nkind = \"command\"\nfiles = [\"*.x\"]\ncommand = [\"true\"]\n\
             dimension = \"{dimension}\"\nversion = [\"sh\", \"-c\", \"echo >> runs; sleep 0.3; echo 1.0\"]\n"
        )
    };
    env.write("verdict.toml", config("lint"));
    env.write("a.x", "a\n");
    env.start();
    let runs = || std::fs::read_to_string(env.project.join("runs")).unwrap_or_default().lines().count();
    // How many runs one reload makes.
    let before = runs();
    assert!(env.connect().call("reload", json!({})).get("result").is_some());
    let per_reload = runs() - before;
    assert!(per_reload >= 1, "a reload runs the version command");

    env.write("verdict.toml", config("format"));
    let before = runs();
    let checks: Vec<_> = (0..3)
        .map(|_| {
            let mut c = env.connect();
            std::thread::spawn(move || c.call("check", json!({ "paths": ["."] })))
        })
        .collect();
    let mut longest = 0;
    for check in checks {
        let r = check.join().unwrap();
        assert!(r.get("result").is_some(), "{r}");
        longest = longest.max(r["result"]["summary"]["duration_ms"].as_u64().unwrap());
    }
    assert_eq!(runs() - before, per_reload, "three checks, one edit: one reload");
    // A check's duration counts the reload it waited for (the version
    // command's 0.3 s).
    assert!(longest >= 300, "{longest} ms");
}

#[test]
fn a_changed_cache_ttl_applies_at_once_and_needs_no_restart() {
    let env = Env::new();
    env.write("verdict.toml", "builtins = true\n");
    env.start();
    let mut c = env.connect();
    env.write("verdict.toml", "builtins = true\n[cache]\nttl = \"1h\"\n");
    let r = c.call("reload", json!({}));
    assert_eq!(r["result"]["restart_required"], json!([]), "{r}");
    env.write("verdict.toml", "builtins = true\n[cache]\nttl = \"2h\"\nblock_cache = \"8MiB\"\n");
    let r = c.call("reload", json!({}));
    assert_eq!(r["result"]["restart_required"], json!(["cache"]), "{r}");
}

#[test]
fn stop_says_so_when_the_daemon_is_too_busy_to_take_it() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nmax_connections = 2\n");
    let pid = env.start();
    let held = [only_connection(&env), env.connect()];
    let out = env.run(&["stop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("busy"), "{stderr}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "the daemon was not stopped, and still runs");
    drop(held);
    // The held connections' slots are free once the daemon has seen them
    // close: until then `stop` may still be told `busy`.
    wait_until(Duration::from_secs(10), "stop to be taken", || {
        let out = env.run(&["--json", "stop"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            assert!(stderr.contains("busy"), "{stderr}");
            return false;
        }
        let stopped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stopped["stopped"], true, "{stopped}");
        true
    });
}

/// With one connection allowed, a command that starts the daemon makes
/// its request on the connection that saw the daemon serve: a second one
/// could find that slot not yet freed, and be told `busy` (about every
/// second start was, before).
#[test]
fn a_command_that_starts_the_daemon_needs_only_one_connection() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nmax_connections = 1\n");
    env.write("a.txt", "a\n");
    for args in [&["cache", "stats"][..], &["check", "a.txt"], &["ping"], &["check"], &["reload"], &["ping"]] {
        env.run_ok(args, 0);
        env.run_ok(&["stop"], 0);
    }
}

/// `busy` is transient: a command refused for a moment is served once a
/// slot frees within its patience (five seconds).
#[test]
fn a_command_refused_as_busy_tries_again_and_is_served() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nmax_connections = 1\n");
    env.start();
    let held = only_connection(&env);
    let ping = env.cmd().arg("--json").arg("ping").stdout(std::process::Stdio::piped()).spawn().unwrap();
    // Refused once at least (the daemon logs each refusal at debug level),
    // then the slot is given back.
    env.wait_for_log("refused a connection: too many open");
    drop(held);
    let out = ping.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Past its connection limit and the 64 refusals it answers at once, the
/// daemon closes connections without a word: the CLI takes that for
/// `busy` too (tried again, then said), not for a daemon that stopped
/// taking connections (it waited 30 s and said to kill a healthy one).
#[test]
fn a_connection_closed_without_an_answer_is_busy() {
    let env = Env::new();
    env.write("verdict.toml", "[daemon]\nmax_connections = 1\n");
    let pid = env.start();
    let held = only_connection(&env);
    // Connections that keep the daemon's 64 refusals busy (each is
    // answered for up to a second), new ones every 200 ms.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = std::thread::spawn({
        let (socket, done) = (env.socket(), done.clone());
        move || {
            let mut open = std::collections::VecDeque::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                open.extend((0..70).filter_map(|_| UnixStream::connect(&socket).ok()));
                while open.len() > 350 {
                    open.pop_front();
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    let out = env.run(&["ping"]);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    flood.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("busy") && !stderr.contains("kill"), "{stderr}");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(held);
}

#[test]
fn cache_unavailable_is_a_typed_error() {
    let env = Env::new();
    env.write("verdict.toml", "[cache]\nenabled = false\n");
    env.start();
    let mut c = env.connect();
    for m in ["cache.stats", "cache.clear", "cache.prune"] {
        let r = c.call(m, json!({}));
        assert_eq!(error_code(&r), Some(code::CACHE_UNAVAILABLE), "{m}: {r}");
    }
}

#[test]
fn the_cli_ping_and_status_outputs() {
    let env = Env::new();
    let out = env.run_ok(&["ping"], 0);
    assert!(out.starts_with("pong from pid"), "{out}");
    let out = env.run_ok(&["status"], 0);
    assert!(out.contains("project root:") && out.contains("validators:"), "{out}");
    let help = env.run_ok(&["check", "--help"], 0);
    assert!(help.contains("--dimension") && help.contains("--format"));
    let bad = env.run(&["frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
    let _ = UnixStream::connect(env.socket()).unwrap();
}
