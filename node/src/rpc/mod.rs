//! JSON-RPC: the API trait (server and client come from it), and the server.

pub mod api;
mod proof_cache;
pub mod server;
pub mod verified;

pub use api::KessaiApiClient;
pub use jsonrpsee::core::client::Error as ClientError;
pub use jsonrpsee::http_client::HttpClient;

/// A client for the CLI and tests.
pub fn client(url: &str) -> anyhow::Result<HttpClient> {
    jsonrpsee::http_client::HttpClientBuilder::default()
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .request_timeout(std::time::Duration::from_secs(60))
        .build(url)
        .map_err(|e| anyhow::anyhow!("bad RPC URL {url:?}: {e}"))
}
