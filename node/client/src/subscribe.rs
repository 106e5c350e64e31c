//! A WebSocket subscription to a node's RPC (`kessai_subscribeHeads`, `kessai_subscribeEvents`,
//! `kessai_subscribeTx`; `docs/rpc.md`): a [`Connection`] may carry several; a [`Subscription`]
//! has a connection of its own, so that it has the node's whole per-connection buffer.
//!
//! The node closes a subscriber that does not keep up with an error whose message says the cursor
//! to resume from ([`Next::Closed`]); subscribing again from that cursor loses nothing.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use soketto::handshake::{Client, ServerResponse};
use std::collections::VecDeque;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

type Socket = Compat<TcpStream>;

/// What a subscription delivers next.
#[derive(Debug)]
pub enum Next {
    /// A message (the `result` of the notification).
    Item(Value),
    /// The node closed the subscription with this error object (`code`, `message` and, when it
    /// lagged, the `cursor` to resume from).
    Closed(Value),
    /// The connection ended.
    Disconnected,
}

/// A WebSocket connection to a node's RPC that may carry several subscriptions (they share the
/// node's per-connection buffer).
pub struct Connection {
    // The node's pings are answered by the receiver, through the sender's half.
    sender: soketto::connection::Sender<Socket>,
    receiver: soketto::connection::Receiver<Socket>,
    buffer: Vec<u8>,
    next_request: u64,
    /// Notifications read while waiting for a subscription's answer.
    queued: VecDeque<Value>,
}

impl Connection {
    /// Connects to the node whose RPC is at `url` (`http://HOST:PORT`: the same port serves
    /// JSON-RPC over HTTP and WebSocket).
    pub async fn open(url: &str) -> Result<Connection> {
        let host = url
            .trim_end_matches('/')
            .strip_prefix("http://")
            .or_else(|| url.trim_end_matches('/').strip_prefix("ws://"))
            .ok_or_else(|| anyhow!("subscriptions need an http:// or ws:// RPC URL, not {url}"))?
            .to_string();
        let stream = TcpStream::connect(&host)
            .await
            .with_context(|| format!("cannot connect to the node's RPC at {host}"))?;
        Connection::open_on(stream, &host).await
    }

    /// [`Connection::open`] on a TCP connection the caller made (to set its socket options).
    pub async fn open_on(stream: TcpStream, host: &str) -> Result<Connection> {
        let mut client = Client::new(stream.compat(), host, "/");
        match client.handshake().await.context("WebSocket handshake with the node failed")? {
            ServerResponse::Accepted { .. } => {}
            ServerResponse::Redirect { status_code, .. }
            | ServerResponse::Rejected { status_code } => {
                bail!("the node refused the WebSocket upgrade (HTTP {status_code})")
            }
        }
        let (sender, receiver) = client.into_builder().finish();
        Ok(Connection {
            sender,
            receiver,
            buffer: Vec::new(),
            next_request: 1,
            queued: VecDeque::new(),
        })
    }

    /// Subscribes with `method` (e.g. `kessai_subscribeEvents`) and `params` (a JSON array);
    /// returns the subscription's id, which [`Connection::next`] gives with each message.
    pub async fn subscribe(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.send_request(method, params).await?;
        loop {
            let message = self.read().await?.context("the node closed the connection")?;
            if message.get("id") != Some(&json!(id)) {
                self.queued.push_back(message);
                continue;
            }
            if let Some(error) = message.get("error") {
                let text = error["message"].as_str().unwrap_or("subscription refused");
                return Err(anyhow!("{text}")
                    .context(SubscribeRefused { code: error["code"].as_i64().unwrap_or(0) }));
            }
            return message.get("result").cloned().ok_or_else(|| anyhow!("no subscription id"));
        }
    }

    /// Sends a request without waiting for its answer (which [`Connection::next`] skips);
    /// returns its request id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> Result<u64> {
        let id = self.next_request;
        self.next_request += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.sender.send_text(request.to_string()).await?;
        self.sender.flush().await?;
        Ok(id)
    }

    /// The next message of any subscription of the connection, with the subscription's id.
    pub async fn next(&mut self) -> Result<(Value, Next)> {
        loop {
            let message = match self.queued.pop_front() {
                Some(message) => message,
                None => match self.read().await? {
                    Some(message) => message,
                    None => return Ok((Value::Null, Next::Disconnected)),
                },
            };
            let params = &message["params"];
            let Some(subscription) = params.get("subscription") else { continue };
            if let Some(error) = params.get("error") {
                return Ok((subscription.clone(), Next::Closed(error.clone())));
            }
            return Ok((subscription.clone(), Next::Item(params["result"].clone())));
        }
    }

    /// The next JSON message, or none when the connection ended.
    async fn read(&mut self) -> Result<Option<Value>> {
        self.buffer.clear();
        if self.receiver.receive_data(&mut self.buffer).await.is_err() {
            return Ok(None);
        }
        Ok(Some(serde_json::from_slice(&self.buffer)?))
    }
}

/// One subscription on a connection of its own, so that it has the node's whole per-connection
/// buffer.
pub struct Subscription {
    connection: Connection,
    id: Value,
}

impl Subscription {
    /// Subscribes with `method` and `params` on the node whose RPC is at `url`.
    pub async fn open(url: &str, method: &str, params: Value) -> Result<Subscription> {
        let mut connection = Connection::open(url).await?;
        let id = connection.subscribe(method, params).await?;
        Ok(Subscription { connection, id })
    }

    /// The next message of the subscription.
    pub async fn next(&mut self) -> Result<Next> {
        loop {
            let (id, next) = self.connection.next().await?;
            if id == self.id || matches!(next, Next::Disconnected) {
                return Ok(next);
            }
        }
    }
}

/// Why a subscription was refused: its JSON-RPC error code (`-32601` from a node without
/// subscriptions).
#[derive(Debug, Clone, Copy)]
pub struct SubscribeRefused {
    /// The error code.
    pub code: i64,
}

impl std::fmt::Display for SubscribeRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subscription refused (code {})", self.code)
    }
}
