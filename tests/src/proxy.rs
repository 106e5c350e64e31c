//! An HTTP JSON-RPC proxy in front of a real node that answers like it, except where told to lie:
//! the lying node of the light client's, `kessai query state`'s and `kessai swap`'s tests.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use kessai_client::rpc::{ClientError, HttpClient};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy lies about. The state lies touch contract storage only (keys outside the
/// system namespace), so a contract's name, code and interface still verify and what is caught
/// is the lie about the value asked for.
#[derive(Clone, Copy, Debug)]
pub enum Lie {
    Nothing,
    /// Headers from this height on carry another state root (as if to prove other values).
    ForgeHeaders {
        from: u64,
    },
    /// A stored value, changed.
    TamperValue,
    /// The value hash inside the proof's leaf, changed.
    TamperProof,
    /// State reads answered from this height, labelled with the height asked for.
    StateFromHeight(u64),
    /// A present value reported absent, with the node's (inclusion) proof.
    WithholdValue,
    /// A successful transaction's receipt turned into a failure.
    TamperReceipt,
}

pub struct LyingProxy {
    pub url: String,
    lie: Arc<Mutex<Lie>>,
    // Serves the proxy until the proxy is dropped.
    _runtime: tokio::runtime::Runtime,
}

impl LyingProxy {
    pub fn start(node_rpc: &str) -> LyingProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let _context = runtime.enter();
        let lie = Arc::new(Mutex::new(Lie::Nothing));
        let node = Arc::new(kessai_client::rpc_client(node_rpc).expect("node client"));
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = lie.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (node, lie) = (node.clone(), *shared.lock().unwrap());
                tokio::spawn(async move {
                    let _ = serve(stream, &node, lie).await;
                });
            }
        });
        LyingProxy { url, lie, _runtime: runtime }
    }

    pub fn lie(&self, lie: Lie) {
        *self.lie.lock().unwrap() = lie;
    }
}

/// One HTTP request, one answer, then the connection closes.
async fn serve(mut stream: TcpStream, node: &HttpClient, lie: Lie) -> std::io::Result<()> {
    let body = read_body(&mut stream).await?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = answer(node, lie, &request).await.to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        response.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_body(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let body_start = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < body_start + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(buf[body_start..body_start + length].to_vec())
}

/// Forwards the call to the node and rewrites its result as `lie` says.
async fn answer(node: &HttpClient, lie: Lie, request: &Value) -> Value {
    let method = request["method"].as_str().unwrap_or_default();
    let mut params = request["params"].as_array().cloned().unwrap_or_default();
    if let (Lie::StateFromHeight(height), "kessai_state") = (lie, method) {
        if is_contract_key(&params[0]) {
            params[1] = json!(height);
        }
    }
    let mut forwarded = ArrayParams::new();
    for param in &params {
        forwarded.insert(param).expect("a JSON value");
    }
    let reply = match node.request::<Value, _>(method, forwarded).await {
        Ok(result) => json!({ "result": rewrite(lie, method, &request["params"], result) }),
        Err(ClientError::Call(e)) => {
            json!({ "error": { "code": e.code(), "message": e.message() } })
        }
        Err(other) => json!({ "error": { "code": -32603, "message": other.to_string() } }),
    };
    let mut response = json!({ "jsonrpc": "2.0", "id": request["id"] });
    response.as_object_mut().unwrap().extend(reply.as_object().unwrap().clone());
    response
}

fn rewrite(lie: Lie, method: &str, asked: &Value, mut result: Value) -> Value {
    let contract_value = is_contract_key(&result["key"]) && !result["value"].is_null();
    match (lie, method) {
        (Lie::ForgeHeaders { from }, "kessai_header")
            if result["height"].as_u64().is_some_and(|h| h >= from) =>
        {
            result["state_root"] = json!("11".repeat(32));
        }
        (Lie::TamperValue, "kessai_state") if contract_value => {
            result["value"] = json!(flip_hex_byte(result["value"].as_str().unwrap(), 0));
        }
        // The proof's bytes: Some-tag (1), leaf key hash (32), leaf value hash (32), ….
        (Lie::TamperProof, "kessai_state") if contract_value => {
            result["proof"] = json!(flip_hex_byte(result["proof"].as_str().unwrap(), 33));
        }
        (Lie::StateFromHeight(_), "kessai_state") if is_contract_key(&result["key"]) => {
            result["height"] = asked[1].clone();
        }
        (Lie::WithholdValue, "kessai_state") if contract_value => result["value"] = Value::Null,
        (Lie::TamperReceipt, "kessai_tx") if !result["receipt"].is_null() => {
            result["receipt"]["status"] = json!({ "status": "failed", "reason": "out of gas" });
        }
        _ => {}
    }
    result
}

/// A flat key (hex) outside the system namespace (32 zero bytes): contract storage.
fn is_contract_key(key: &Value) -> bool {
    key.as_str().is_some_and(|k| !k.starts_with(&"00".repeat(32)))
}

fn flip_hex_byte(hex_text: &str, index: usize) -> String {
    let mut bytes = hex::decode(hex_text).expect("hex");
    bytes[index] ^= 0xff;
    hex::encode(bytes)
}
