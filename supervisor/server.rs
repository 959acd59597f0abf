//! The control server: the accept loop and one handler per connection.
//!
//! Framing (one JSON object per `\n`-terminated line, at most
//! [`MAX_LINE_BYTES`]), the handshake, the connection limits and per-request
//! cancellation live here; what each method does lives in
//! [`crate::daemon::Daemon::handle`]. Nothing a client sends — garbage, a
//! huge line, a flood of requests, a refusal to read replies — can stall the
//! accept loop or another connection: each connection has its own task, a
//! bounded queue of replies, a bounded number of requests in flight and a
//! write deadline.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::daemon::Daemon;
use crate::protocol::{
    Frame, HelloParams, HelloResult, Id, LineBudget, LineShare, MAX_LINE_BYTES, Message, PROTOCOL_VERSION, Request,
    RpcError, VERSION, code, method, read_frame_within,
};

/// Requests one connection may have in flight; past this the server stops
/// reading that connection until one finishes (back-pressure, not an error).
const MAX_IN_FLIGHT: usize = 64;
/// A connection keeps a request line's buffer between requests up to this
/// capacity.
const KEEP_LINE_BYTES: usize = LineBudget::FREE;
/// The request lines being received, all connections together, hold at
/// most this much past their first [`LineBudget::FREE`] bytes each; a
/// connection whose line needs more waits for other lines to end.
const LINE_BUDGET_BYTES: usize = 16 * MAX_LINE_BYTES;
/// Replies and notifications queued for one connection before senders wait.
const WRITE_QUEUE: usize = 256;
/// A client that takes none of a reply's bytes for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a connection whose client stopped sending looks whether the
/// client is gone altogether, while its requests run.
const HANGUP_POLL: Duration = Duration::from_millis(200);
/// How often a connection with requests in flight looks again whether it
/// has become idle (its idle time counts from its last request's end).
const IDLE_RECHECK: Duration = Duration::from_millis(500);
/// Notifications are dropped while a connection has more than this many
/// bytes queued and unwritten: progress is worth nothing to a client that
/// does not read it, and a long request id is copied into each.
const NOTIFY_QUEUE_BYTES: usize = 1 << 20;
/// A connection with more than this many bytes of replies queued and
/// unwritten starts no new request until its client reads them.
const REPLY_QUEUE_BYTES: usize = 32 << 20;
/// A check streaming its outcomes sends its next part only while its
/// connection has no more than this many bytes unwritten: a few parts in
/// flight keep a reading client busy, and a client that stalls holds no
/// more than this of its report and two parts (one queued past it, one
/// serialized and waiting); the rest is serialized only as it reads.
const STREAM_QUEUE_BYTES: usize = 4 << 20;

/// Replies and notifications queued and unwritten, all connections
/// together. Past [`ReplyBudget::limit`], a connection holding more than
/// [`FAIR_SHARE_BYTES`] of them starts no new request until its client reads:
/// clients that do not read cannot go on adding to what they hold (the
/// requests they already started still answer, and a client that takes
/// nothing for [`WRITE_TIMEOUT`] is disconnected), and clients that read
/// are not held up by them.
pub struct ReplyBudget {
    limit: usize,
    queued: std::sync::atomic::AtomicUsize,
    /// Notified each time a queued line is written or dropped.
    freed: tokio::sync::Notify,
}

/// See [`ReplyBudget`].
const REPLY_BUDGET_BYTES: usize = 256 << 20;
/// A connection with no more than this many bytes unwritten is never held
/// up by the others' (see [`ReplyBudget`]).
const FAIR_SHARE_BYTES: usize = NOTIFY_QUEUE_BYTES;

impl ReplyBudget {
    fn new(limit: usize) -> Arc<ReplyBudget> {
        Arc::new(ReplyBudget { limit, queued: Default::default(), freed: Default::default() })
    }

    fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// What one connection has queued: its own count and the daemon's.
struct Counts {
    /// Bytes queued on this connection and not yet written.
    own: std::sync::atomic::AtomicUsize,
    /// Notified each time one of this connection's lines is written or
    /// dropped.
    freed: tokio::sync::Notify,
    budget: Arc<ReplyBudget>,
}

/// A line in a connection's queue. Its bytes are counted from when it is
/// queued until it is dropped, however that happens: written, refused by a
/// full queue, or left in the queue of a connection that ended.
struct Queued {
    line: Vec<u8>,
    counts: Arc<Counts>,
}

impl Queued {
    fn new(line: Vec<u8>, counts: &Arc<Counts>) -> Queued {
        counts.own.fetch_add(line.len(), Ordering::Relaxed);
        counts.budget.queued.fetch_add(line.len(), Ordering::Relaxed);
        Queued { line, counts: counts.clone() }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        let n = self.line.len();
        self.counts.own.fetch_sub(n, Ordering::Relaxed);
        self.counts.freed.notify_waiters();
        // Those waiting on the budget can only go on once it has room: woken
        // when the total falls to the limit, not at every line written.
        let budget = &self.counts.budget;
        let before = budget.queued.fetch_sub(n, Ordering::Relaxed);
        if before > budget.limit && before - n <= budget.limit {
            budget.freed.notify_waiters();
        }
    }
}

/// A connection's queue of lines to write, counted in bytes as well as in
/// lines, on its own and in the daemon's [`ReplyBudget`].
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Queued>,
    counts: Arc<Counts>,
}

impl Outbox {
    fn new(budget: Arc<ReplyBudget>) -> (Outbox, mpsc::Receiver<Queued>) {
        let (tx, rx) = mpsc::channel::<Queued>(WRITE_QUEUE);
        let counts = Arc::new(Counts { own: Default::default(), freed: Default::default(), budget });
        (Outbox { tx, counts }, rx)
    }

    /// Queues a line, waiting at most [`WRITE_TIMEOUT`] for room.
    async fn send(&self, line: Vec<u8>) -> Result<(), ()> {
        self.tx.send_timeout(Queued::new(line, &self.counts), WRITE_TIMEOUT).await.map_err(drop)
    }

    /// Queues a line if there is room at once.
    fn try_send(&self, line: Vec<u8>) -> bool {
        self.tx.try_send(Queued::new(line, &self.counts)).is_ok()
    }

    fn queued(&self) -> usize {
        self.counts.own.load(Ordering::Relaxed)
    }

    /// Returns once this connection may start another request: no more
    /// than `limit` bytes of its own are queued, and either the daemon's
    /// budget is not exceeded or this connection holds no more than its
    /// fair share of it.
    async fn drained_to(&self, limit: usize) {
        let budget = &self.counts.budget;
        loop {
            let own = self.counts.freed.notified();
            let all = budget.freed.notified();
            let queued = self.queued();
            if queued <= limit && (queued <= FAIR_SHARE_BYTES || budget.queued() <= budget.limit) {
                return;
            }
            tokio::select! {
                () = own => {}
                () = all => {}
            }
        }
    }
}

/// Sends notifications belonging to one request to its connection. Progress
/// ([`notify`](Self::notify)) is lossy by design: when the client is not
/// reading, it is dropped rather than stalling the work that produces it.
/// Parts of a reply ([`deliver`](Self::deliver)) are never dropped: their
/// sender waits for the client instead.
#[derive(Clone)]
pub struct Notifier {
    outbox: Outbox,
    request: Value,
}

impl Notifier {
    /// A notifier whose notifications go nowhere (for tests that call
    /// handlers directly).
    #[cfg(test)]
    pub(crate) fn discarding() -> Notifier {
        Notifier { outbox: Outbox::new(ReplyBudget::new(REPLY_BUDGET_BYTES)).0, request: Value::Null }
    }

    /// Queues a notification; returns false if it had to be dropped (the
    /// queue is full, or holds more than [`NOTIFY_QUEUE_BYTES`]).
    pub fn notify(&self, method: &str, mut params: Value) -> bool {
        if self.outbox.queued() > NOTIFY_QUEUE_BYTES {
            return false;
        }
        if let Value::Object(map) = &mut params {
            map.insert("request".into(), self.request.clone());
        }
        self.outbox.try_send(Message::notification(method, params).to_line())
    }

    /// Queues a notification that is part of a reply (a check's streamed
    /// outcomes), so never dropped: `members` are its params' members after
    /// `request` (already JSON, e.g. `"outcomes":[…]`). Waits while the
    /// connection has more than [`STREAM_QUEUE_BYTES`] queued and unwritten
    /// (or the daemon's budget is spent and the connection holds more than
    /// its share): memory stays bounded however long the stream, and a
    /// client that reads nothing for [`WRITE_TIMEOUT`] is disconnected.
    /// False if `cancel` fired or the connection is gone.
    pub async fn deliver(&self, method: &str, members: &[u8], cancel: &CancellationToken) -> bool {
        tokio::select! {
            () = self.outbox.drained_to(STREAM_QUEUE_BYTES) => {}
            () = cancel.cancelled() => return false,
        }
        let head = serde_json::json!({ "jsonrpc": "2.0", "method": method }).to_string();
        let mut line = Vec::with_capacity(head.len() + members.len() + 64);
        line.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
        line.extend_from_slice(br#","params":{"request":"#);
        serde_json::to_writer(&mut line, &self.request).expect("a Value always serializes");
        line.push(b',');
        line.extend_from_slice(members);
        line.extend_from_slice(b"}}\n");
        tokio::select! {
            sent = self.outbox.send(line) => sent.is_ok(),
            () = cancel.cancelled() => false,
        }
    }
}

/// What a method handler gets besides its params.
pub struct RequestCtx {
    /// Cancelled by `cancel`, by the client disconnecting, or at the end of
    /// the shutdown grace period.
    pub cancel: CancellationToken,
    /// Streams notifications tied to this request.
    pub notifier: Notifier,
}

/// Accepts connections until the daemon starts shutting down.
pub async fn serve(listener: UnixListener, daemon: Arc<Daemon>) {
    let slots = Arc::new(Semaphore::new(daemon.limits.max_connections));
    let budget = LineBudget::new(LINE_BUDGET_BYTES);
    let replies = ReplyBudget::new(REPLY_BUDGET_BYTES);
    let my_uid = nix::unistd::geteuid().as_raw();
    loop {
        let accepted = tokio::select! {
            _ = daemon.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let peer_uid = stream.peer_cred().map(|c| c.uid()).ok();
        if peer_uid != Some(my_uid) {
            warn!(?peer_uid, "refused a connection from another user");
            let err = RpcError::new(code::PERMISSION_DENIED, "permission denied: the daemon serves only its own user")
                .with_data(json!({ "peer_uid": peer_uid }));
            tokio::spawn(reject(stream, err));
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            debug!("refused a connection: too many open");
            let err = RpcError::new(code::BUSY, "busy: too many connections")
                .with_data(json!({ "max_connections": daemon.limits.max_connections }));
            tokio::spawn(reject(stream, err));
            continue;
        };
        let (daemon, budget, replies) = (daemon.clone(), budget.clone(), replies.clone());
        let tasks = daemon.connection_tasks.clone();
        tasks.spawn(async move {
            let active = || {
                *daemon.last_active.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    tokio::time::Instant::now();
            };
            daemon.connections.fetch_add(1, Ordering::Relaxed);
            active();
            let checked = connection(stream, daemon.clone(), budget, replies).await;
            active();
            if checked {
                // A check's report may have been freed only now.
                daemon.work_ended.notify_one();
            }
            daemon.connections.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    info!("stopped accepting connections");
}

/// Refused connections being answered at once; past this, one is closed
/// without an answer, so that a flood of them cannot hold a descriptor each
/// for the second an answer may take.
const MAX_REJECTING: usize = 64;

static REJECTING: Semaphore = Semaphore::const_new(MAX_REJECTING);

/// Sends one error and closes, without waiting long for a client that does
/// not read (or closes at once, when [`MAX_REJECTING`] are being answered).
async fn reject(mut stream: UnixStream, err: RpcError) {
    let Ok(_answering) = REJECTING.try_acquire() else { return };
    let line = Message::error(Value::Null, err).to_line();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&line).await?;
        stream.shutdown().await?;
        // Drain what the client already sent: closing with unread data
        // would reset the connection and the client could lose our reply.
        let mut sink = [0u8; 4096];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

type InFlight = Arc<Mutex<HashMap<Id, CancellationToken>>>;

/// The client took none of a line's bytes for [`WRITE_TIMEOUT`], or read
/// it slower than [`MIN_READ_RATE`].
#[derive(Debug)]
struct Stalled;

/// The slowest a client may read a long reply, on average: past
/// [`WRITE_TIMEOUT`] plus the time this rate takes for its bytes, a reply
/// (up to 252 MiB) is not held for it any longer. A local client reads
/// hundreds of times faster.
const MIN_READ_RATE: u64 = 64 << 10;

/// Writes a whole line. A client that keeps reading is waited for as long
/// as a large reply takes it at [`MIN_READ_RATE`] (plus
/// [`WRITE_TIMEOUT`]); one that takes no byte for [`WRITE_TIMEOUT`], or
/// reads slower than that, has stalled.
async fn write_line<W: tokio::io::AsyncWrite + Unpin>(wr: &mut W, line: &[u8]) -> Result<std::io::Result<()>, Stalled> {
    let deadline =
        tokio::time::Instant::now() + WRITE_TIMEOUT + Duration::from_millis(line.len() as u64 * 1000 / MIN_READ_RATE);
    let mut rest = line;
    while !rest.is_empty() {
        let wait = (tokio::time::Instant::now() + WRITE_TIMEOUT).min(deadline);
        match tokio::time::timeout_at(wait, wr.write(rest)).await.map_err(|_| Stalled)? {
            Ok(0) => return Ok(Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => rest = &rest[n..],
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

/// Serves one connection until it ends; returns whether it ran a check.
async fn connection(stream: UnixStream, daemon: Arc<Daemon>, budget: LineBudget, replies: Arc<ReplyBudget>) -> bool {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = Outbox::new(replies);
    // Cancelled when the connection must end: a write that cannot complete,
    // an oversized line. Every request of the connection hangs below it.
    let conn_cancel = daemon.abort.child_token();

    let writer_cancel = conn_cancel.clone();
    let writer = tokio::spawn(async move {
        while let Some(queued) = rx.recv().await {
            let written = write_line(&mut wr, &queued.line).await;
            drop(queued);
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    debug!(error = %e, "client went away");
                    writer_cancel.cancel();
                    return;
                }
                Err(Stalled) => {
                    warn!("client did not read its replies; disconnecting it");
                    writer_cancel.cancel();
                    return;
                }
            }
        }
        let _ = wr.shutdown().await;
    });

    let mut reader = BufReader::with_capacity(64 * 1024, rd);
    let mut line = Vec::new();
    // What the line being received holds of the shared budget.
    let mut share = LineShare::default();
    let in_flight: InFlight = Arc::default();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // When the connection's last request ended: its idle time counts from
    // then, or from when the read began, whichever is later.
    let last_done = Arc::new(std::sync::Mutex::new(tokio::time::Instant::now()));
    let mut greeted = false;
    // Whether it ran a check (whose memory is worth giving back once it
    // is over; see `return_memory_when_quiet`).
    let mut checked = false;
    // Closed for an oversized line, whose rest may still be coming.
    let mut oversized = false;
    'frames: loop {
        if line.capacity() > KEEP_LINE_BYTES {
            // A large request's buffer is not kept for the connection's
            // life: a hundred idle clients that each sent one would hold
            // hundreds of megabytes.
            line = Vec::new();
        }
        line.clear();
        share.release();
        let read_began = tokio::time::Instant::now();
        // Idle: no request in flight, and nothing received, for
        // `idle_timeout` since the later of the read's start and the last
        // request's end. Looked at again while requests run, since one that
        // ends starts the count.
        let frame = {
            let read = read_frame_within(&mut reader, &mut line, MAX_LINE_BYTES, Some((&budget, &mut share)));
            tokio::pin!(read);
            loop {
                let now = tokio::time::Instant::now();
                let deadline = (slots.available_permits() == MAX_IN_FLIGHT).then(|| {
                    let since = (*last_done.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).max(read_began);
                    since + daemon.limits.idle_timeout
                });
                if deadline.is_some_and(|d| d <= now) {
                    debug!("closing an idle connection");
                    break 'frames;
                }
                // With nothing in flight the deadline stands until a frame
                // comes; with requests in flight, look again.
                let wake = deadline.unwrap_or(now + IDLE_RECHECK);
                tokio::select! {
                    _ = conn_cancel.cancelled() => break 'frames,
                    r = &mut read => break r,
                    _ = tokio::time::sleep_until(wake) => {}
                }
            }
        };
        let frame = match frame {
            Err(e) => {
                debug!(error = %e, "read failed");
                break;
            }
            Ok(f) => f,
        };
        match frame {
            Frame::Eof => break,
            Frame::TooLong => {
                let err = RpcError::new(
                    code::REQUEST_TOO_LARGE,
                    format!("request too large: a line may hold at most {MAX_LINE_BYTES} bytes"),
                );
                let _ = tx.send(Message::error(Value::Null, err).to_line()).await;
                oversized = true;
                break;
            }
            Frame::Line => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let req = match parse_request(&line) {
            Ok(Some(req)) => req,
            Ok(None) => continue, // a notification: nothing to answer
            Err((id, err)) => {
                if tx.send(Message::error(id, err).to_line()).await.is_err() {
                    break;
                }
                continue;
            }
        };
        let Some(id) = req.id.clone() else { continue };
        let id_value = serde_json::to_value(&id).unwrap_or(Value::Null);
        // An id in flight is not answered again, whatever the method (the
        // inline `hello` and `cancel` too): a reply with this id would
        // settle the request that holds it, which goes on and answers
        // later. Answered with id null, as any request whose id cannot be
        // used. Only this loop adds ids, so none is added before the
        // request below takes it.
        if in_flight.lock().await.contains_key(&id) {
            let err = RpcError::new(code::INVALID_REQUEST, format!("request id {id} is already in flight"))
                .with_data(json!({ "id": id_value }));
            if tx.send(Message::error(Value::Null, err).to_line()).await.is_err() {
                break;
            }
            continue;
        }

        // The handshake and `cancel` are answered inline, in order.
        if req.method == method::HELLO {
            let reply = match hello(&daemon, req.params.as_ref()) {
                Ok(r) => {
                    greeted = true;
                    Message::result(id_value, r)
                }
                Err(e) => Message::error(id_value, e),
            };
            if tx.send(reply.to_line()).await.is_err() {
                break;
            }
            continue;
        }
        if !greeted {
            let err = RpcError::new(code::HELLO_REQUIRED, "the first request on a connection must be `hello`");
            if tx.send(Message::error(id_value, err).to_line()).await.is_err() {
                break;
            }
            continue;
        }
        if req.method == method::CANCEL {
            let reply = match cancel_target(req.params.as_ref()) {
                Ok(target) => match in_flight.lock().await.get(&target) {
                    Some(token) => {
                        token.cancel();
                        Message::result(id_value, json!({ "cancelled": true }))
                    }
                    None => Message::error(
                        id_value,
                        RpcError::new(code::NOT_FOUND, format!("no request {target} in flight on this connection")),
                    ),
                },
                Err(e) => Message::error(id_value, e),
            };
            if tx.send(reply.to_line()).await.is_err() {
                break;
            }
            continue;
        }
        if daemon.shutdown.is_cancelled() && req.method != method::SHUTDOWN {
            let msg = Message::error(id_value, RpcError::refused_shutting_down());
            if tx.send(msg.to_line()).await.is_err() {
                break;
            }
            continue;
        }

        // Everything else runs concurrently, tracked so that shutdown can
        // wait for it, and cancellable by id; once the client has not read
        // `REPLY_QUEUE_BYTES` of replies (or more than its fair share while
        // all clients' unread replies exceed the daemon's budget), or has
        // `MAX_IN_FLIGHT` requests running, the next waits (and a client gone meanwhile is noticed:
        // its requests are cancelled below).
        let permit = tokio::select! {
            biased;
            _ = conn_cancel.cancelled() => break,
            p = async {
                tx.drained_to(REPLY_QUEUE_BYTES).await;
                slots.clone().acquire_owned().await
            } => p.expect("the semaphore is never closed"),
            () = hung_up(reader.get_ref().as_ref()) => break,
        };
        let token = conn_cancel.child_token();
        in_flight.lock().await.insert(id.clone(), token.clone());
        let ctx =
            RequestCtx { cancel: token.clone(), notifier: Notifier { outbox: tx.clone(), request: id_value.clone() } };
        let (daemon2, tx2, in_flight2, last_done2) = (daemon.clone(), tx.clone(), in_flight.clone(), last_done.clone());
        let check = req.method == "check";
        checked |= check;
        daemon.requests.spawn(async move {
            let result = tokio::select! {
                r = daemon2.handle(&req.method, req.params.unwrap_or(Value::Null), &ctx) => r,
                _ = token.cancelled() => Err(if daemon2.abort.is_cancelled() {
                    RpcError::shutting_down()
                } else {
                    RpcError::cancelled()
                }),
            };
            let msg = match result {
                Err(e) if e.code == code::CANCELLED && daemon2.abort.is_cancelled() => {
                    Message::error(id_value, RpcError::shutting_down())
                }
                Ok(v) => Message::raw_result(id_value, v),
                Err(e) => Message::error(id_value, e),
            };
            // No longer in flight once answered: a client may use the id
            // again as soon as it reads the reply.
            in_flight2.lock().await.remove(&id);
            let _ = tx2.send(msg.to_line()).await;
            *last_done2.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = tokio::time::Instant::now();
            drop(permit);
            if check {
                daemon2.work_ended.notify_one();
            }
        });
    }
    // The client closed its side (or we are closing it): let requests in
    // flight finish and deliver their replies, then close. A client that
    // only shut down its writing side still reads them; one that is gone
    // altogether (killed, its terminal closed) would never read them, and
    // a check it started could hold its tools for as long as their
    // timeout, so its requests are cancelled.
    tokio::select! {
        _ = slots.acquire_many(MAX_IN_FLIGHT as u32) => {}
        () = hung_up(reader.get_ref().as_ref()) => {
            debug!("client went away; cancelling its requests");
            conn_cancel.cancel();
            let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
        }
    }
    drop(tx);
    let _ = writer.await;
    if oversized {
        // The error is written and the writing side shut down. Closing with
        // the line's rest unread would reset the connection, and the client
        // could lose the error: read it and drop it, for a while.
        let mut sink = vec![0u8; 64 * 1024];
        let _ = tokio::time::timeout(DRAIN_AFTER_REFUSAL, async {
            while matches!(tokio::io::AsyncReadExt::read(&mut reader, &mut sink).await, Ok(1..)) {}
        })
        .await;
    }
    checked
}

/// How long the rest of an oversized line is read (and dropped) after its
/// error, so the client gets the error rather than a reset connection.
const DRAIN_AFTER_REFUSAL: Duration = Duration::from_secs(2);

/// Returns once the peer of `stream` has closed it entirely: the socket then
/// reports a hang-up, which a peer that only shut down its writing side
/// does not cause.
async fn hung_up(stream: &UnixStream) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    let now = Timespec { tv_sec: 0, tv_nsec: 0 };
    loop {
        let mut fds = [PollFd::new(stream, PollFlags::empty())];
        if rustix::event::poll(&mut fds, Some(&now)).is_ok_and(|n| n > 0)
            && fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR)
        {
            return;
        }
        tokio::time::sleep(HANGUP_POLL).await;
    }
}

/// Parses a line into a request. `Ok(None)` is a notification (no id).
/// Errors carry the id to answer with (null when it could not be read).
fn parse_request(line: &[u8]) -> Result<Option<Request>, (Value, RpcError)> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| (Value::Null, RpcError::new(code::PARSE_ERROR, format!("parse error: {e}"))))?;
    // Echoed in an error only when it is one a request may have: a reply
    // to an id that cannot be one is answered with id null.
    let id = match value.get("id") {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    };
    let invalid = |msg: &str| (id.clone(), RpcError::new(code::INVALID_REQUEST, format!("invalid request: {msg}")));
    let Value::Object(obj) = &value else { return Err(invalid("a request must be a JSON object")) };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if !obj.get("method").is_some_and(Value::is_string) {
        return Err(invalid("`method` must be a string"));
    }
    match obj.get("id") {
        None => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(Value::String(_)) => {}
        Some(_) => {
            return Err((
                Value::Null,
                RpcError::new(code::INVALID_REQUEST, "invalid request: `id` must be an integer or a string"),
            ));
        }
    }
    if let Some(p) = obj.get("params")
        && !(p.is_object() || p.is_null())
    {
        return Err(invalid("`params` must be an object"));
    }
    let req: Request = serde_json::from_value(value.clone()).map_err(|e| invalid(&e.to_string()))?;
    Ok(req.id.is_some().then_some(req))
}

fn hello(daemon: &Daemon, params: Option<&Value>) -> Result<Value, RpcError> {
    let p: HelloParams = parse_params(params)?;
    let mine = HelloResult {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
        build: daemon.build.clone(),
        pid: daemon.pid,
        data_dir: Some(daemon.engine.store_path().to_path_buf()),
        grace_ms: Some(daemon.limits.grace.as_millis() as u64),
    };
    if p.protocol != u64::from(PROTOCOL_VERSION) {
        return Err(RpcError::new(
            code::PROTOCOL_VERSION_MISMATCH,
            format!("protocol version mismatch: the daemon speaks {PROTOCOL_VERSION}, the client {}", p.protocol),
        )
        .with_data(serde_json::to_value(&mine).expect("plain struct")));
    }
    Ok(serde_json::to_value(&mine).expect("plain struct"))
}

fn cancel_target(params: Option<&Value>) -> Result<Id, RpcError> {
    let id = params.and_then(|p| p.get("id")).ok_or_else(|| RpcError::invalid_params("id", "missing"))?;
    serde_json::from_value(id.clone()).map_err(|_| RpcError::invalid_params("id", "must be an integer or a string"))
}

/// Deserializes params into `T`, naming the offending field on failure.
/// Unknown fields are ignored (forward compatibility).
pub fn parse_params<T: serde::de::DeserializeOwned>(params: Option<&Value>) -> Result<T, RpcError> {
    let v = match params {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is reported at the parent's path; name the field.
        let missing = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next());
        let field = match (path.as_str(), missing) {
            (".", Some(f)) => f.to_string(),
            (".", None) => "params".to_string(),
            (p, Some(f)) => format!("{p}.{f}"),
            (p, None) => p.to_string(),
        };
        RpcError::invalid_params(&field, inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_validated() {
        assert!(matches!(parse_request(b"nope"), Err((Value::Null, e)) if e.code == code::PARSE_ERROR));
        assert!(matches!(parse_request(b"[1]"), Err((_, e)) if e.code == code::INVALID_REQUEST));
        assert!(
            matches!(parse_request(br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#), Err((id, e)) if e.code == code::INVALID_REQUEST && id == json!(1))
        );
        assert!(
            matches!(parse_request(br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#), Err((_, e)) if e.code == code::INVALID_REQUEST)
        );
        assert!(matches!(parse_request(br#"{"jsonrpc":"2.0","method":"ping"}"#), Ok(None)));
        // An id that cannot be one is not echoed, whatever else is wrong.
        for bad in [r#"{"jsonrpc":"1","id":{"a":1},"method":"ping"}"#, r#"{"jsonrpc":"2.0","id":1.5,"method":7}"#] {
            assert!(matches!(parse_request(bad.as_bytes()), Err((Value::Null, e)) if e.code == code::INVALID_REQUEST));
        }
        let r = parse_request(br#"{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}"#).unwrap().unwrap();
        assert_eq!(r.id, Some(Id::Str("a".into())));
        // Every integer JSON-RPC allows, not only those of an i64.
        let r = parse_request(br#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"ping"}"#).unwrap().unwrap();
        assert_eq!(r.id, Some(Id::Big(u64::MAX)));
        assert_eq!(serde_json::to_string(&r.id).unwrap(), "18446744073709551615");
        let r = parse_request(br#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"ping"}"#).unwrap().unwrap();
        assert_eq!(r.id, Some(Id::Num(i64::MIN)));
    }

    fn ready<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        f.poll(&mut cx).is_ready()
    }

    #[tokio::test]
    async fn notifications_are_dropped_while_unread_bytes_pile_up_and_replies_wait() {
        let (outbox, mut rx) = Outbox::new(ReplyBudget::new(REPLY_BUDGET_BYTES));
        let notifier = Notifier { outbox: outbox.clone(), request: json!("a long id") };
        assert!(notifier.notify("check/progress", json!({ "done": 1 })), "an empty queue takes it");
        // A reply of 2 MiB the client has not read.
        outbox.send(vec![b'x'; 2 << 20]).await.unwrap();
        assert!(outbox.queued() > NOTIFY_QUEUE_BYTES);
        assert!(!notifier.notify("check/progress", json!({ "done": 2 })), "dropped: the client does not read");
        // A request waits until the queue has drained to its limit.
        let mut drained = std::pin::pin!(outbox.drained_to(1 << 20));
        assert!(!ready(drained.as_mut()), "2 MiB unread: it waits");
        for _ in 0..2 {
            drop(rx.recv().await.unwrap());
        }
        assert!(ready(drained.as_mut()), "written: it goes on");
        assert!(notifier.notify("check/progress", json!({ "done": 3 })), "read again: sent again");
    }

    #[tokio::test]
    async fn a_streamed_report_waits_for_its_client_with_little_queued() {
        let (outbox, mut rx) = Outbox::new(ReplyBudget::new(REPLY_BUDGET_BYTES));
        let notifier = Notifier { outbox: outbox.clone(), request: json!(7) };
        let cancel = CancellationToken::new();
        // Parts of 1 MiB, as a check streams them, to a client that reads none.
        let part = vec![b'1'; 1 << 20];
        let mut sent = 0;
        while ready(std::pin::pin!(notifier.deliver("check/outcomes", &part, &cancel))) {
            sent += 1;
            assert!(sent <= 8, "{sent} MiB queued for a client that reads nothing");
        }
        // Each part is 1 MiB and its envelope: the fifth waits.
        assert_eq!(sent, 4);
        let mut next = std::pin::pin!(notifier.deliver("check/outcomes", &part, &cancel));
        assert!(!ready(next.as_mut()));
        // The client reads one part: the next goes.
        drop(rx.recv().await.unwrap());
        assert!(ready(next.as_mut()));
        // One that is cancelled while it waits says so.
        let waiting = std::pin::pin!(notifier.deliver("check/outcomes", &part, &cancel));
        cancel.cancel();
        assert!(!waiting.await);
    }

    #[tokio::test]
    async fn clients_that_do_not_read_share_one_budget_and_do_not_hold_up_those_that_do() {
        let budget = ReplyBudget::new(64 << 20);
        let (hoarder, mut hoarder_rx) = Outbox::new(budget.clone());
        let (slow, _slow_rx) = Outbox::new(budget.clone());
        let (reader, _reader_rx) = Outbox::new(budget.clone());
        // Over the daemon's budget together.
        for _ in 0..3 {
            hoarder.send(vec![0; 30 << 20]).await.unwrap();
        }
        slow.send(vec![0; 2 << 20]).await.unwrap();
        assert_eq!(budget.queued(), (90 << 20) + (2 << 20));
        let mut slow_waits = std::pin::pin!(slow.drained_to(REPLY_QUEUE_BYTES));
        assert!(!ready(slow_waits.as_mut()), "more than its fair share while the budget is spent: it waits");
        assert!(ready(std::pin::pin!(reader.drained_to(REPLY_QUEUE_BYTES))), "a client that reads goes on");
        // The hoarder's client reads one reply: the budget has room again.
        drop(hoarder_rx.recv().await.unwrap());
        assert!(ready(slow_waits.as_mut()), "room in the budget: it goes on");
        // A connection that ends with lines unwritten gives their bytes back.
        drop(hoarder_rx);
        assert!(!hoarder.try_send(vec![0; 10]), "the queue is closed");
        assert_eq!(budget.queued(), 2 << 20, "only the slow client's reply is still counted");
    }

    /// A client that keeps reading, slowly, gets its whole reply; one that
    /// stops reading is given up on after `WRITE_TIMEOUT`, and one that
    /// reads a byte now and then once the reply's time at `MIN_READ_RATE`
    /// is up.
    #[tokio::test(start_paused = true)]
    async fn slow_readers_get_their_reply_and_stalled_ones_are_dropped() {
        use tokio::io::AsyncReadExt;
        let (mut daemon_end, mut client_end) = tokio::io::duplex(4096);
        let line = vec![b'x'; 1 << 20];
        // 4 KiB every 50 ms, 80 KiB/s: 12.8 s for the line, past
        // WRITE_TIMEOUT and within 10 s + 16 s at MIN_READ_RATE.
        let reader = tokio::spawn(async move {
            let (mut buf, mut got) = (vec![0; 4096], 0);
            while got < 1 << 20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                got += client_end.read(&mut buf).await.unwrap();
            }
            client_end
        });
        let started = tokio::time::Instant::now();
        assert!(matches!(write_line(&mut daemon_end, &line).await, Ok(Ok(()))));
        assert!(started.elapsed() > WRITE_TIMEOUT, "{:?}", started.elapsed());
        let _client_end = reader.await.unwrap();
        // The client stops reading: the line cannot go.
        let started = tokio::time::Instant::now();
        assert!(write_line(&mut daemon_end, &line).await.is_err());
        assert!(started.elapsed() >= WRITE_TIMEOUT);
        // A byte every 9 s: never a stall, but far below the rate.
        let (mut daemon_end, mut trickle) = tokio::io::duplex(1);
        tokio::spawn(async move {
            let mut byte = [0; 1];
            loop {
                tokio::time::sleep(Duration::from_secs(9)).await;
                if trickle.read(&mut byte).await.unwrap_or(0) == 0 {
                    return;
                }
            }
        });
        let started = tokio::time::Instant::now();
        assert!(write_line(&mut daemon_end, &line).await.is_err());
        let limit = WRITE_TIMEOUT + Duration::from_secs(16);
        assert!(started.elapsed() >= limit && started.elapsed() < limit + WRITE_TIMEOUT, "{:?}", started.elapsed());
    }

    #[test]
    fn invalid_params_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct P {
            paths: Vec<String>,
        }
        let e = parse_params::<P>(Some(&json!({"paths": 3, "future_field": true}))).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        let e = parse_params::<P>(Some(&json!({}))).unwrap_err();
        assert_eq!(e.data.unwrap()["field"], "paths");
        assert!(parse_params::<P>(Some(&json!({"paths": [], "future_field": 1}))).is_ok());
    }
}
