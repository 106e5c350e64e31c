//! What one client may cost the JSON-RPC server, and where it is enforced.
//!
//! The server runs its own accept loop around jsonrpsee's tower service so that it can refuse a
//! connection before it costs anything (a cap in all and a cap per client host), give hyper a
//! header read timeout, and give each request body a size limit and a deadline. Without them, a
//! few hosts trickling their requests held every slot and 64 MiB bodies on 1,024 connections
//! could ask for 64 GiB of buffers (issue 20).
//!
//! A client that keeps a slot longest sends its headers just inside `header_timeout_ms` and its
//! body just inside `body_timeout_ms`; an idle keep-alive connection is closed after
//! `header_timeout_ms` too (hyper's header timer runs while it waits for the next request). The
//! memory a host can pin is about `max_connections_per_ip × max_request_body_bytes`.

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpResponse, StopHandle};
use kessai_primitives::MAX_TX_BYTES;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes of JSON around the transactions of the largest request: `{"jsonrpc":"2.0","id":…,
/// "method":"kessai_submitTxs","params":[[…]]}`, a `"0x"` and the quotes and comma of each
/// transaction, and whitespace. Hex needs no JSON escapes, so this does not grow with the payload.
const JSON_ENVELOPE_BYTES: usize = 64 * 1024;

/// The largest request body a valid request needs, in bytes: 4,259,840 (4 MiB + 64 KiB).
///
/// Transactions travel as hex, two characters per byte, so one transaction of the protocol's
/// largest size ([`MAX_TX_BYTES`], 2 MiB: a code deployment of the runtime's largest module, 1 MiB,
/// fits with room) takes 2 × 2 MiB = 4 MiB of body. The largest batch of maximum-size
/// transactions a request may carry is one: a `kessai_submitTxs` list and a JSON-RPC batch share
/// the same budget, so they carry up to 4 MiB of transaction hex in all (e.g. 1,000 transactions
/// of up to about 2 KiB each, where a typical call is a few hundred bytes). Then
/// 1 × 2 × 2 MiB + 64 KiB of JSON envelope ([`JSON_ENVELOPE_BYTES`]) = 4,259,840 bytes. It also
/// leaves room for a transaction of `MAX_TX_BYTES + 1`, so that one gets the mempool's "size
/// limit" sentence rather than a 413.
pub const MAX_REQUEST_BODY_BYTES: u32 =
    (MAX_SIZE_TXS_PER_REQUEST * HEX_CHARS_PER_BYTE * MAX_TX_BYTES + JSON_ENVELOPE_BYTES) as u32;

/// Maximum-size transactions one request may carry (see [`MAX_REQUEST_BODY_BYTES`]).
const MAX_SIZE_TXS_PER_REQUEST: usize = 1;
/// Hex encoding doubles the bytes of a transaction.
const HEX_CHARS_PER_BYTE: usize = 2;

/// Resource limits of the JSON-RPC server; [`RpcLimits::default`] is what a node runs with unless
/// told otherwise (`kessai node run --rpc-…`, `kessai dev --rpc-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcLimits {
    /// Open connections in all; past it a new connection gets `503` and is closed.
    pub max_connections: u32,
    /// Open connections from one host (an IPv4 address, or an IPv6 /64); past it a new
    /// connection gets `429` and is closed. A reverse proxy in front of the node is one host.
    pub max_connections_per_ip: u32,
    /// How long a connection may take to send a request's headers, in milliseconds, counted from
    /// when the server starts waiting for them: also how long an idle keep-alive connection stays.
    pub header_timeout_ms: u64,
    /// How long a request's body may take to arrive after its headers, in milliseconds; a body
    /// still incomplete then gets `408` and the connection is closed.
    pub body_timeout_ms: u64,
    /// Largest request body, in bytes; a larger one gets `413`. Default: [`MAX_REQUEST_BODY_BYTES`].
    pub max_request_body_bytes: u32,
    /// Largest response, in bytes (a `kessai_block` of a full block is the largest answer).
    pub max_response_body_bytes: u32,
    /// Calls in one JSON-RPC batch (a JSON array of requests); a larger batch is refused whole.
    pub max_batch_calls: u32,
    /// Transactions in one `kessai_submitTxs` call; a longer list is refused whole.
    pub max_submit_txs: u32,
    /// How long a WebSocket connection may leave the server's pings unanswered, in milliseconds:
    /// the server pings every half of it and closes a connection whose peer has sent neither a
    /// pong nor a message for three quarters of it, at the next ping (so within about 1¼ × this).
    /// A client host that vanished (no FIN, no RST) otherwise held its connection, and its place
    /// under `max_connections`, until the kernel gave up on it.
    pub ws_idle_timeout_ms: u64,
}

impl Default for RpcLimits {
    fn default() -> Self {
        RpcLimits {
            max_connections: 1024,
            max_connections_per_ip: 64,
            header_timeout_ms: 5_000,
            // 4 MiB of body in 10 s needs about 3.4 Mbit/s from the client.
            body_timeout_ms: 10_000,
            max_request_body_bytes: MAX_REQUEST_BODY_BYTES,
            max_response_body_bytes: 64 * 1024 * 1024,
            max_batch_calls: 100,
            // The load generator sends 250–500 per call.
            max_submit_txs: 1_000,
            ws_idle_timeout_ms: 60_000,
        }
    }
}

impl RpcLimits {
    /// Refuses limits that would refuse every client.
    pub fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("max_request_body_bytes", self.max_request_body_bytes as u64),
            ("max_response_body_bytes", self.max_response_body_bytes as u64),
            ("max_batch_calls", self.max_batch_calls as u64),
            ("max_submit_txs", self.max_submit_txs as u64),
            ("ws_idle_timeout_ms", self.ws_idle_timeout_ms),
        ];
        match positive.iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => anyhow::bail!("RPC limit {name} must be at least 1"),
            None => Ok(()),
        }
    }

    fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }

    /// The server's WebSocket pings for [`RpcLimits::ws_idle_timeout_ms`]: jsonrpsee checks at
    /// each ping whether the last pong or message is older than the inactive limit, which must
    /// be longer than the interval for a live peer's pong to count.
    pub(crate) fn ws_ping(&self) -> jsonrpsee::server::PingConfig {
        let idle = Duration::from_millis(self.ws_idle_timeout_ms.max(2));
        jsonrpsee::server::PingConfig::new()
            .ping_interval(idle / 2)
            .inactive_limit(idle * 3 / 4)
            .max_failures(1)
    }
}

/// The request a connection's service gets: hyper's, with the body limited.
pub(crate) type LimitedRequest = Request<LimitedBody<Incoming>>;

/// What a connection's service answers a request with.
pub(crate) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

/// The service of one connection: jsonrpsee's, behind a trait object so that this module need not
/// name jsonrpsee's middleware types.
pub(crate) type ConnectionService = Arc<dyn Fn(LimitedRequest) -> ResponseFuture + Send + Sync>;

/// Accepts connections on `listener` until `stop`, serving each with a new service from
/// `service_of_connection` (jsonrpsee's, one per connection) within `limits`.
pub(crate) async fn serve(
    listener: TcpListener,
    limits: RpcLimits,
    service_of_connection: impl Fn() -> ConnectionService,
    stop: StopHandle,
) {
    let connections = Connections::new(&limits);
    let limits = Arc::new(limits);
    let stopped = stop.clone().shutdown();
    tokio::pin!(stopped);
    loop {
        let (socket, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: let some connections close.
                    tracing::debug!(error = %e, "RPC accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stopped => return,
        };
        let slot = match connections.admit(remote.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::debug!(%remote, %refusal, "RPC connection refused");
                tokio::spawn(refuse(socket, refusal));
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let service = service_of_connection();
        let remote = RemoteAddr(remote);
        tokio::spawn(serve_connection(socket, slot, remote, limits.clone(), service, stop.clone()));
    }
}

/// The address of the client of a request (in its extensions): the operator's methods
/// (`kessai_admin_*`) are served to loopback clients only.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RemoteAddr(pub(crate) std::net::SocketAddr);

impl RemoteAddr {
    /// Whether the client is on this machine (127.0.0.0/8, ::1, or ::ffff:127.x.y.z).
    pub(crate) fn is_loopback(&self) -> bool {
        match self.0.ip() {
            std::net::IpAddr::V4(v4) => v4.is_loopback(),
            std::net::IpAddr::V6(v6) => {
                v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback())
            }
        }
    }
}

async fn serve_connection(
    socket: TcpStream,
    slot: Slot,
    remote: RemoteAddr,
    limits: Arc<RpcLimits>,
    jsonrpsee: ConnectionService,
    stop: StopHandle,
) {
    // Every request holds the slot: a WebSocket connection keeps its upgrade request's extensions
    // for its whole life, so it keeps counting after hyper hands the socket over.
    let slot = Arc::new(slot);
    let header_timeout = limits.header_timeout();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(slot.clone());
        request.extensions_mut().insert(remote);
        let verdict = Arc::new(Verdict::default());
        let request = request.map(|body| LimitedBody::new(body, &limits, verdict.clone()));
        let response = jsonrpsee(request);
        let limits = limits.clone();
        // Infallible: with `BoxError` as hyper's service error, rustc cannot prove the
        // connection's future `Send` (a higher-ranked lifetime of the trait object).
        async move {
            Ok::<_, std::convert::Infallible>(match response.await {
                Ok(response) => verdict.replace(response, &limits),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("RPC failed: {e}")),
            })
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = &mut connection => result,
        _ = stop.shutdown() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "RPC connection closed");
    }
}

/// Why a connection was refused at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Refusal {
    #[error("too many RPC connections from your address (at most {0}); close some and retry")]
    TooManyFromHost(u32),
    #[error("the node has too many RPC connections (at most {0}); retry later")]
    Busy(u32),
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::TooManyFromHost(_) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Answers a refused connection with one sentence and closes it; the request, if any, is read
/// and dropped first (closing on unread bytes would reset the connection before the answer is
/// read). Bounded by a second in all.
async fn refuse(mut socket: TcpStream, refusal: Refusal) {
    let body = format!("{refusal}\n");
    let answer = format!(
        "HTTP/1.1 {}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        refusal.status(),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        socket.write_all(answer.as_bytes()).await?;
        socket.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            match socket.read(&mut sink).await? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Open connections, in all and per host.
#[derive(Clone)]
struct Connections {
    counts: Arc<Mutex<Counts>>,
    max_total: u32,
    max_per_host: u32,
}

#[derive(Default)]
struct Counts {
    total: u32,
    per_host: HashMap<IpAddr, u32>,
}

/// One admitted connection; dropping it frees its place.
struct Slot {
    connections: Connections,
    host: IpAddr,
}

impl Connections {
    fn new(limits: &RpcLimits) -> Connections {
        Connections {
            counts: Arc::default(),
            max_total: limits.max_connections,
            max_per_host: limits.max_connections_per_ip,
        }
    }

    fn admit(&self, ip: IpAddr) -> Result<Slot, Refusal> {
        let host = host_of(ip);
        let mut counts = self.counts.lock();
        if counts.total >= self.max_total {
            return Err(Refusal::Busy(self.max_total));
        }
        let of_host = counts.per_host.entry(host).or_default();
        if *of_host >= self.max_per_host {
            return Err(Refusal::TooManyFromHost(self.max_per_host));
        }
        *of_host += 1;
        counts.total += 1;
        Ok(Slot { connections: self.clone(), host })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.connections.counts.lock();
        counts.total -= 1;
        if let Some(of_host) = counts.per_host.get_mut(&self.host) {
            *of_host -= 1;
            if *of_host == 0 {
                counts.per_host.remove(&self.host);
            }
        }
    }
}

/// The host a connection counts against: its IPv4 address, or its IPv6 /64 (one site's subnet:
/// a host given a /64 would otherwise have 2^64 addresses to spread its connections over).
fn host_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

// A verdict of 0: the body was not cut short.
const BODY_LATE: u8 = 1;
const BODY_TOO_LARGE: u8 = 2;

/// What [`LimitedBody`] cut short, so that the answer says so (jsonrpsee answers any failed body
/// read with a bare "internal error").
#[derive(Default)]
struct Verdict(AtomicU8);

impl Verdict {
    fn set(&self, verdict: u8) {
        self.0.store(verdict, Ordering::Relaxed);
    }

    /// The response to send: jsonrpsee's, or the reason the body was cut short. A request whose
    /// body was not read to its end leaves the connection unusable, so those answers close it.
    fn replace(&self, response: HttpResponse, limits: &RpcLimits) -> HttpResponse {
        let (status, message) = match self.0.load(Ordering::Relaxed) {
            BODY_LATE => (
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {} ms", limits.body_timeout_ms),
            ),
            BODY_TOO_LARGE => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than the limit of {} bytes",
                    limits.max_request_body_bytes
                ),
            ),
            _ if response.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                // jsonrpsee's own answer to a Content-Length above the limit, before reading.
                let mut response = response;
                response.headers_mut().insert(hyper::header::CONNECTION, close());
                return response;
            }
            _ => return response,
        };
        let mut response = text(status, message);
        response.headers_mut().insert(hyper::header::CONNECTION, close());
        response
    }
}

/// A plain-text answer of one sentence.
fn text(status: StatusCode, message: String) -> HttpResponse {
    let mut response = Response::new(HttpBody::from(format!("{message}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn close() -> hyper::header::HeaderValue {
    hyper::header::HeaderValue::from_static("close")
}

/// A request body that fails once it has taken longer than the body timeout since its headers, or
/// grown past the request size limit, and records which in its [`Verdict`].
pub(crate) struct LimitedBody<B> {
    inner: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
    remaining: usize,
    verdict: Arc<Verdict>,
}

impl<B> LimitedBody<B> {
    fn new(inner: B, limits: &RpcLimits, verdict: Arc<Verdict>) -> LimitedBody<B> {
        LimitedBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(limits.body_timeout())),
            remaining: limits.max_request_body_bytes as usize,
            verdict,
        }
    }

    fn fail(
        &self,
        verdict: u8,
        message: &'static str,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.verdict.set(verdict);
        Poll::Ready(Some(Err(message.into())))
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Checked before every read, so that a body trickling in never waits on the timer.
        if self.deadline.is_elapsed() {
            return self.fail(BODY_LATE, "request body timed out");
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let size = frame.data_ref().map_or(0, |data| data.len());
                if size > self.remaining {
                    return self.fail(BODY_TOO_LARGE, "request body too large");
                }
                self.remaining -= size;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => self.fail(BODY_LATE, "request body timed out"),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_body_limit_admits_one_maximum_size_transaction_in_hex() {
        let limit = RpcLimits::default().max_request_body_bytes as usize;
        assert_eq!(limit, 4 * 1024 * 1024 + 64 * 1024);
        assert!(limit >= 2 * (MAX_TX_BYTES + 1) + 200, "room for the oversize sentence");
        assert!(limit < 2 * 2 * MAX_TX_BYTES, "not two maximum-size transactions");
    }

    #[test]
    fn hosts_are_capped_separately_and_slots_are_returned() {
        let limits =
            RpcLimits { max_connections: 3, max_connections_per_ip: 2, ..Default::default() };
        let connections = Connections::new(&limits);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = connections.admit(a).unwrap();
        let _second = connections.admit(a).unwrap();
        assert_eq!(connections.admit(a).err(), Some(Refusal::TooManyFromHost(2)));
        let _third = connections.admit(b).unwrap();
        assert_eq!(connections.admit(b).err(), Some(Refusal::Busy(3)));
        drop(first);
        assert!(connections.admit(a).is_ok());
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(host_of(one), host_of(other));
        assert_ne!(host_of(one), host_of(elsewhere));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(host_of(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn zero_limits_are_refused() {
        let limits = RpcLimits { max_connections_per_ip: 0, ..Default::default() };
        let err = limits.check().unwrap_err().to_string();
        assert_eq!(err, "RPC limit max_connections_per_ip must be at least 1");
        assert!(RpcLimits::default().check().is_ok());
    }
}
