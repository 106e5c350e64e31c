//! End-to-end tests: real kessai processes driven through the CLI and RPC
