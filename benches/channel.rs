//! Benchmark of the command channel, each figure beside a floor measured in
//! the same run: a bare Unix-socket echo (one line in, the same line out, no
//! JSON) served by a tokio task in this process.
//!
//! - round trip of `ping` on one connection (p50, p99) vs the echo round trip;
//! - throughput with 1, 16 and 64 concurrent clients vs the echo server;
//! - whole-process `verdict ping` (median of many runs) vs a process that
//!   connects to the echo socket and does one round trip.
//!
//! Run: `scripts/bench channel` (or `cargo bench --bench channel`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use verdict::client::Client;

const ROUND_TRIPS: usize = 20_000;
const THROUGHPUT_FOR: Duration = Duration::from_secs(2);
const PROCESS_RUNS: usize = 200;

fn main() {
    // Re-executed as the floor of the whole-process figure.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--echo-once") {
        echo_once(Path::new(&args[2]));
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let project = tmp.path().join("project");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    let runtime_dir = tmp.path().join("run");
    std::fs::create_dir_all(&runtime_dir).unwrap();
    let verdict = verdict_bin();
    let env = [
        ("XDG_RUNTIME_DIR", runtime_dir.clone()),
        ("XDG_STATE_HOME", tmp.path().join("state")),
        ("XDG_CACHE_HOME", tmp.path().join("cache")),
    ];
    let run = |args: &[&str]| {
        let mut c = Command::new(&verdict);
        c.args(args).current_dir(&project);
        for (k, v) in &env {
            c.env(k, v);
        }
        c
    };
    let out = run(&["--json", "daemon"]).output().expect("start daemon");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let socket = runtime_dir
        .join("verdict")
        .join(format!("{}.sock", verdict::paths::root_key(&std::fs::canonicalize(&project).unwrap())));
    let echo_path = tmp.path().join("echo.sock");

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = UnixListener::bind(&echo_path).unwrap();
        tokio::spawn(echo_server(listener));

        println!("# command channel (2-core machine figures in docs/performance.md)");
        let (p50, p99) = ping_latency(&socket).await;
        let (e50, e99) = echo_latency(&echo_path).await;
        println!(
            "round trip   ping p50 {:>7.1} us  p99 {:>7.1} us | echo floor p50 {:>6.1} us  p99 {:>6.1} us | ratio p50 {:.2}x",
            us(p50),
            us(p99),
            us(e50),
            us(e99),
            us(p50) / us(e50)
        );
        for clients in [1usize, 16, 64] {
            let ping = throughput(clients, || ping_client(socket.clone())).await;
            let echo = throughput(clients, || echo_client(echo_path.clone())).await;
            println!(
                "throughput   {clients:>2} clients: ping {ping:>9.0} req/s | echo floor {echo:>9.0} req/s | ratio {:.2}x",
                echo / ping
            );
        }
    });

    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut cli = Vec::with_capacity(PROCESS_RUNS);
    let mut floor = Vec::with_capacity(PROCESS_RUNS);
    let me = std::env::current_exe().unwrap();
    for _ in 0..PROCESS_RUNS {
        let t = Instant::now();
        let st = run(&["ping", "--no-start"]).stdout(std::process::Stdio::null()).status().unwrap();
        cli.push(t.elapsed());
        assert!(st.success());
        let t = Instant::now();
        let st = Command::new(&me).arg("--echo-once").arg(&echo_path).status().unwrap();
        floor.push(t.elapsed());
        assert!(st.success());
    }
    let (c, f) = (median(cli), median(floor));
    println!(
        "process      `verdict ping` median {:.2} ms | echo-once process floor {:.2} ms | ratio {:.2}x",
        ms(c),
        ms(f),
        ms(c) / ms(f)
    );
    let _ = run(&["stop"]).output();
}

fn verdict_bin() -> PathBuf {
    // benches live in target/release/deps; the binary is one level up.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("verdict");
    assert!(bin.exists(), "build the binary first: cargo build --release ({})", bin.display());
    bin
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

async fn ping_latency(socket: &Path) -> (Duration, Duration) {
    let mut c = Client::connect(socket).await.expect("connect");
    for _ in 0..1000 {
        c.call("ping", json!({})).await.unwrap();
    }
    let mut v = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        c.call("ping", json!({})).await.unwrap();
        v.push(t.elapsed());
    }
    percentiles(v)
}

const ECHO_LINE: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n";

async fn echo_latency(path: &Path) -> (Duration, Duration) {
    let (mut rd, mut wr) = connect_echo(path).await;
    let mut line = String::new();
    for _ in 0..1000 {
        wr.write_all(ECHO_LINE).await.unwrap();
        line.clear();
        rd.read_line(&mut line).await.unwrap();
    }
    let mut v = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        wr.write_all(ECHO_LINE).await.unwrap();
        line.clear();
        rd.read_line(&mut line).await.unwrap();
        v.push(t.elapsed());
    }
    percentiles(v)
}

async fn connect_echo(path: &Path) -> (BufReader<tokio::net::unix::OwnedReadHalf>, tokio::net::unix::OwnedWriteHalf) {
    let s = UnixStream::connect(path).await.unwrap();
    let (r, w) = s.into_split();
    (BufReader::new(r), w)
}

async fn echo_server(listener: UnixListener) {
    loop {
        let Ok((s, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let (r, mut w) = s.into_split();
            let mut r = BufReader::new(r);
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if w.write_all(&line).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Runs `clients` sequential request loops for THROUGHPUT_FOR; requests/s.
async fn throughput<F, Fut>(clients: usize, make: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    let t = Instant::now();
    let handles: Vec<_> = (0..clients).map(|_| tokio::spawn(make())).collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / t.elapsed().as_secs_f64()
}

async fn ping_client(socket: PathBuf) -> u64 {
    let mut c = Client::connect(&socket).await.expect("connect");
    let end = Instant::now() + THROUGHPUT_FOR;
    let mut n = 0;
    while Instant::now() < end {
        c.call("ping", json!({})).await.unwrap();
        n += 1;
    }
    n
}

async fn echo_client(path: PathBuf) -> u64 {
    let (mut rd, mut wr) = connect_echo(&path).await;
    let end = Instant::now() + THROUGHPUT_FOR;
    let mut n = 0;
    let mut line = String::new();
    while Instant::now() < end {
        wr.write_all(ECHO_LINE).await.unwrap();
        line.clear();
        rd.read_line(&mut line).await.unwrap();
        n += 1;
    }
    n
}

/// The floor process: connect, one echo round trip, exit.
fn echo_once(path: &Path) {
    use std::io::{BufRead, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(ECHO_LINE).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).unwrap();
}
