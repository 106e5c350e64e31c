//! Signing consensus messages: the [`Signer`] trait, the key file with its signing state beside it
//! ([`LocalSigner`]), the remote signer `kessai signer run` ([`serve`]) and its client
//! ([`RemoteSigner`]), and what the consensus shell puts between them and the core
//! ([`ShellSigner`], [`DoubleSignCheck`]).
//!
//! Every signature of the core goes through a [`Signer`], and every [`Signer`] checks the key's
//! signing state ([`SignGuard`]) before it signs: the local one in this process, the remote one in
//! the signer process, which holds the key and the state (as tmkms does). So there is no path on
//! which the node signs without the state check, and two nodes pointed at one signer cannot make it
//! sign two different messages at one (height, round, step).
//!
//! # The socket (`unix:///path`)
//!
//! Frames of a 4-byte big-endian length and a borsh [`Request`] or [`Response`] (at most
//! [`MAX_FRAME`] bytes). A connection starts with [`Request::Hello`], answered with the key and its
//! last signed position; then one [`Request::Sign`] at a time. Only Unix sockets: the signer
//! creates the socket with mode 0600 (bound under a temporary name, restricted, then renamed into
//! place, so it is never reachable with wider permissions), so the kernel lets only the signer's
//! user (and root) connect — the node runs as that user or reaches the socket through a group
//! the operator sets up. TCP is refused: a remote signer on another machine needs an
//! authenticated, encrypted channel (tmkms's SecretConnection); forward the socket over SSH
//! (`ssh -L /run/kessai/signer.sock:/run/kessai/signer.sock`) rather than open a port
//! (`docs/decisions/0021-consensus-key-and-remote-signer.md`).

use crate::sign_state::{LastSigned, SignGuard, SignStep, Verdict};
use anyhow::{bail, Context, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use kessai_consensus::{ConsensusSigner, Message};
use kessai_primitives::{
    Commit, Keypair, Proposal, PublicKey, SignedProposal, SignedVote, Vote, VoteKind,
};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest frame on the signer socket: a proposal or a vote with its signature is far smaller.
pub const MAX_FRAME: usize = 64 * 1024;

/// How long the node waits for the signer's answer before it counts it unavailable.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(2);

/// After a failed exchange, the node asks again no sooner than this (a signer that is down costs
/// the consensus task nothing in between).
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// Version of the socket protocol, sent in [`Request::Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// What to sign.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SignRequest {
    /// A proposal of the key's validator.
    Proposal(Proposal),
    /// A prevote or precommit of the key's validator.
    Vote(Vote),
}

impl SignRequest {
    fn signer(&self) -> PublicKey {
        match self {
            SignRequest::Proposal(p) => p.proposer,
            SignRequest::Vote(v) => v.validator,
        }
    }

    fn sign(self, key: &Keypair) -> Message {
        match self {
            SignRequest::Proposal(p) => Message::Proposal(p.sign(key)),
            SignRequest::Vote(v) => Message::Vote(v.sign(key)),
        }
    }

    /// Whether `message` is this request signed by `key`.
    fn answered_by(&self, message: &Message, key: &PublicKey) -> bool {
        match (self, message) {
            (SignRequest::Proposal(p), Message::Proposal(s)) => {
                s.proposal == *p && p.proposer == *key && s.verify().is_ok()
            }
            (SignRequest::Vote(v), Message::Vote(s)) => {
                s.vote == *v && v.validator == *key && s.verify().is_ok()
            }
            _ => false,
        }
    }
}

/// A signer's answer to a [`SignRequest`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SignOutcome {
    /// Signed (or the very message signed before, sent again).
    Signed(Message),
    /// Refused: it would conflict with what the key already signed (the reason says what).
    Refused(String),
}

/// Why a signer could not answer.
#[derive(Debug)]
pub enum SignError {
    /// The remote signer cannot be reached or did not answer: try again later.
    Unavailable(String),
    /// Writing the signing state failed: a storage fault, nothing more is signed.
    Failed(anyhow::Error),
}

/// What signs consensus messages, with the key's signing state checked and recorded first.
pub trait Signer: Send {
    /// The consensus key.
    fn public_key(&self) -> PublicKey;
    /// The last position the key signed at, as its state said when this signer was opened (or
    /// the remote signer last said hello).
    fn last_signed(&self) -> Option<LastSigned>;
    /// Signs `request` unless the signing state refuses it.
    fn sign(&mut self, request: SignRequest) -> Result<SignOutcome, SignError>;
}

// ---------------------------------------------------------------------------------------------
// The key file and its signing state.

/// The consensus key in this process, with its signing state (`sign_state.json`) beside it.
#[derive(Debug)]
pub struct LocalSigner {
    key: Keypair,
    guard: SignGuard,
    opened_at: Option<LastSigned>,
}

impl LocalSigner {
    /// `key` with the state `guard` opened for it.
    pub fn new(key: Keypair, guard: SignGuard) -> LocalSigner {
        let opened_at = guard.last();
        LocalSigner { key, guard, opened_at }
    }
}

impl Signer for LocalSigner {
    fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    fn last_signed(&self) -> Option<LastSigned> {
        self.opened_at
    }

    fn sign(&mut self, request: SignRequest) -> Result<SignOutcome, SignError> {
        if request.signer() != self.key.public() {
            return Ok(SignOutcome::Refused(format!(
                "this signer holds the key {}, not {}",
                self.key.public(),
                request.signer()
            )));
        }
        let message = request.sign(&self.key);
        match self.guard.check(&message).map_err(SignError::Failed)? {
            Verdict::Sign | Verdict::Resend => Ok(SignOutcome::Signed(message)),
            Verdict::Refuse(reason) => Ok(SignOutcome::Refused(reason)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The socket protocol.

/// Where a remote signer listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerAddress {
    /// A Unix socket (`unix:///path`).
    Unix(PathBuf),
}

impl SignerAddress {
    /// `unix:///absolute/path`; anything else is refused with the reason.
    pub fn parse(text: &str) -> Result<SignerAddress> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                bail!("the socket path must be absolute: unix:///path/to/signer.sock");
            }
            return Ok(SignerAddress::Unix(PathBuf::from(path)));
        }
        if text.starts_with("tcp://") {
            bail!("TCP is not supported: a signer is reached through a Unix socket (unix:///path), forwarded over SSH between machines (docs/operations.md)");
        }
        bail!("expected unix:///path/to/signer.sock")
    }
}

impl std::fmt::Display for SignerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignerAddress::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// From the node to the signer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Request {
    /// First on a connection: which protocol the node speaks.
    Hello {
        /// [`PROTOCOL_VERSION`].
        version: u32,
    },
    /// Sign this.
    Sign(SignRequest),
}

/// From the signer to the node.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Response {
    /// The answer to [`Request::Hello`].
    Hello {
        /// [`PROTOCOL_VERSION`].
        version: u32,
        /// The key the signer holds.
        public_key: PublicKey,
        /// Its last signed position.
        last_signed: Option<LastSigned>,
    },
    /// The answer to [`Request::Sign`].
    Outcome(SignOutcome),
    /// The signer could not record the signature (its disk failed) and stops; or the request
    /// was not understood.
    Failed(String),
}

fn write_frame(stream: &mut impl Write, value: &impl BorshSerialize) -> std::io::Result<()> {
    let bytes = borsh::to_vec(value)?;
    if bytes.len() > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut frame = (bytes.len() as u32).to_be_bytes().to_vec();
    frame.extend(bytes);
    stream.write_all(&frame)?;
    stream.flush()
}

fn read_frame<T: BorshDeserialize>(stream: &mut impl Read) -> std::io::Result<T> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {length} bytes is too large")));
    }
    let mut bytes = vec![0u8; length];
    stream.read_exact(&mut bytes)?;
    T::try_from_slice(&bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// The node's side: a remote signer.

/// The node's client of `kessai signer run`: each signature is a request on the socket. While the
/// signer is unreachable every request fails at once ([`SignError::Unavailable`]) and the node
/// signs nothing; it reconnects by itself when the signer is back.
#[derive(Debug)]
pub struct RemoteSigner {
    address: SignerAddress,
    public_key: PublicKey,
    last_signed: Option<LastSigned>,
    connection: Option<UnixStream>,
    retry_at: Option<Instant>,
}

impl RemoteSigner {
    /// Connects to the signer at `address` and learns its key, waiting (and saying so every few
    /// seconds) until it answers.
    pub fn connect(address: SignerAddress) -> RemoteSigner {
        let started = Instant::now();
        let mut said = Duration::ZERO;
        loop {
            match hello(&address) {
                Ok((stream, public_key, last_signed)) => {
                    tracing::info!(signer = %address, key = %public_key, "signing through the remote signer");
                    return RemoteSigner {
                        address,
                        public_key,
                        last_signed,
                        connection: Some(stream),
                        retry_at: None,
                    };
                }
                Err(e) if started.elapsed() >= said => {
                    tracing::warn!(signer = %address, error = %format!("{e:#}"), "waiting for the remote signer");
                    said += Duration::from_secs(5);
                }
                Err(_) => {}
            }
            std::thread::sleep(RECONNECT_AFTER);
        }
    }

    fn exchange(&mut self, request: &SignRequest) -> Result<Response> {
        if self.connection.is_none() {
            let (stream, public_key, _) = hello(&self.address)?;
            if public_key != self.public_key {
                bail!(
                    "the signer at {} now holds the key {public_key}, not {}",
                    self.address,
                    self.public_key
                );
            }
            self.connection = Some(stream);
        }
        let stream = self.connection.as_mut().expect("connected above");
        write_frame(stream, &Request::Sign(request.clone()))?;
        Ok(read_frame(stream)?)
    }
}

/// Opens a connection to the signer and says hello: the stream, the key and its last signature.
fn hello(address: &SignerAddress) -> Result<(UnixStream, PublicKey, Option<LastSigned>)> {
    let SignerAddress::Unix(path) = address;
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("cannot connect to the signer at {address}"))?;
    stream.set_read_timeout(Some(REMOTE_TIMEOUT))?;
    stream.set_write_timeout(Some(REMOTE_TIMEOUT))?;
    write_frame(&mut stream, &Request::Hello { version: PROTOCOL_VERSION })?;
    match read_frame(&mut stream).context("the signer did not answer hello")? {
        Response::Hello { version: PROTOCOL_VERSION, public_key, last_signed } => {
            Ok((stream, public_key, last_signed))
        }
        Response::Hello { version, .. } => {
            bail!("the signer speaks protocol {version}, this node {PROTOCOL_VERSION}")
        }
        Response::Failed(reason) => bail!("the signer failed: {reason}"),
        other => bail!("the signer answered hello with {other:?}"),
    }
}

impl Signer for RemoteSigner {
    fn public_key(&self) -> PublicKey {
        self.public_key
    }

    fn last_signed(&self) -> Option<LastSigned> {
        self.last_signed
    }

    fn sign(&mut self, request: SignRequest) -> Result<SignOutcome, SignError> {
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(SignError::Unavailable(format!(
                "the signer at {} did not answer; asking again shortly",
                self.address
            )));
        }
        let answer = self.exchange(&request);
        let failed = |this: &mut RemoteSigner, reason: String| {
            this.connection = None;
            this.retry_at = Some(Instant::now() + RECONNECT_AFTER);
            Err(SignError::Unavailable(reason))
        };
        match answer {
            Ok(Response::Outcome(SignOutcome::Signed(message))) => {
                self.retry_at = None;
                if request.answered_by(&message, &self.public_key) {
                    Ok(SignOutcome::Signed(message))
                } else {
                    failed(self, format!("the signer at {} answered with a message that is not the one asked for, or not signed by {}", self.address, self.public_key))
                }
            }
            Ok(Response::Outcome(refused)) => {
                self.retry_at = None;
                Ok(refused)
            }
            Ok(Response::Failed(reason)) => {
                failed(self, format!("the signer at {} failed: {reason}", self.address))
            }
            Ok(other) => failed(self, format!("the signer answered {other:?}")),
            Err(e) => failed(self, format!("{e:#}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The signer's side: `kessai signer run`.

/// Serves `signer` on the Unix socket `path` until the process ends: one thread per connection,
/// one signature at a time (the state check and its write are under one lock). A failed write of
/// the signing state ends the process with status 1, like a node's storage fault: nothing more
/// may be signed after it.
pub fn serve(path: &Path, signer: LocalSigner) -> Result<()> {
    let listener = bind_private(path)?;
    tracing::info!(socket = %path.display(), key = %signer.public_key(), "signer listening");
    let signer = Arc::new(Mutex::new(signer));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                continue;
            }
        };
        let signer = signer.clone();
        std::thread::Builder::new()
            .name("signer-connection".into())
            .spawn(move || serve_connection(stream, &signer))
            .context("cannot start a connection thread")?;
    }
    Ok(())
}

/// Binds `path` with mode 0600: under a temporary name, restricted, then renamed into place. A
/// socket file left by a signer that is gone is replaced; one that a live signer answers on is
/// refused.
fn bind_private(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!("another signer listens at {} already", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let listener =
        UnixListener::bind(&tmp).with_context(|| format!("cannot listen at {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move the socket to {}", path.display()))?;
    Ok(listener)
}

fn serve_connection(mut stream: UnixStream, signer: &Mutex<LocalSigner>) {
    loop {
        let request: Request = match read_frame(&mut stream) {
            Ok(request) => request,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                tracing::debug!(error = %e, "closing a signer connection");
                let _ = write_frame(&mut stream, &Response::Failed(e.to_string()));
                return;
            }
        };
        let response = match request {
            Request::Hello { .. } => {
                let signer = signer.lock().unwrap_or_else(|e| e.into_inner());
                Response::Hello {
                    version: PROTOCOL_VERSION,
                    public_key: signer.public_key(),
                    last_signed: signer.guard.last(),
                }
            }
            Request::Sign(request) => {
                let mut signer = signer.lock().unwrap_or_else(|e| e.into_inner());
                let (height, round) = match &request {
                    SignRequest::Proposal(p) => (p.height, p.round),
                    SignRequest::Vote(v) => (v.height, v.round),
                };
                match signer.sign(request) {
                    Ok(SignOutcome::Signed(message)) => {
                        tracing::debug!(height, round, "signed");
                        Response::Outcome(SignOutcome::Signed(message))
                    }
                    Ok(SignOutcome::Refused(reason)) => {
                        tracing::error!("{reason}");
                        Response::Outcome(SignOutcome::Refused(reason))
                    }
                    Err(error) => {
                        let reason = match error {
                            SignError::Failed(e) => format!("{e:#}"),
                            SignError::Unavailable(e) => e,
                        };
                        tracing::error!(error = %reason, "cannot record a signature: the signer stops; repair the disk, then restart it");
                        let _ = write_frame(&mut stream, &Response::Failed(reason));
                        std::process::exit(1);
                    }
                }
            }
        };
        if write_frame(&mut stream, &response).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Between the consensus core and a signer.

/// What the signer did since the shell last looked, and what the double-sign check decided;
/// shared by the [`ShellSigner`] inside the core and the consensus shell.
#[derive(Debug, Default)]
pub struct SignerStatus {
    /// Height of the latest message signed in this process.
    pub last_signed_height: Option<u64>,
    /// Refusals not yet counted in the metrics.
    pub refused: u64,
    /// A failed write of the signing state: the shell stops the node.
    pub failed: Option<String>,
    /// The signer is unreachable (since its first failed request).
    pub unavailable: bool,
    /// Why this run signs nothing ([`DoubleSignCheck`]).
    pub blocked: Option<String>,
    /// (height, round) of the precommits this process signed, the latest few.
    precommits_here: BTreeSet<(u64, u32)>,
}

/// How many of its own precommits a process remembers for [`DoubleSignCheck`].
const PRECOMMITS_REMEMBERED: usize = 256;

/// The [`ConsensusSigner`] the core of a validator signs with: a [`Signer`] (whose state check
/// refuses conflicts), with what happened reported to the shell through [`SignerStatus`].
pub struct ShellSigner {
    inner: Box<dyn Signer>,
    status: Arc<Mutex<SignerStatus>>,
}

impl ShellSigner {
    /// Wraps `inner`; the shell reads `status`.
    pub fn new(inner: Box<dyn Signer>, status: Arc<Mutex<SignerStatus>>) -> ShellSigner {
        ShellSigner { inner, status }
    }

    fn sign(&mut self, request: SignRequest) -> Option<Message> {
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if status.blocked.is_some() || status.failed.is_some() {
            return None;
        }
        match self.inner.sign(request) {
            Ok(SignOutcome::Signed(message)) => {
                if status.unavailable {
                    status.unavailable = false;
                    tracing::info!("the signer answers again: signing");
                }
                status.last_signed_height = Some(message.height());
                if let Message::Vote(v) = &message {
                    if v.vote.kind == VoteKind::Precommit {
                        status.precommits_here.insert((v.vote.height, v.vote.round));
                        while status.precommits_here.len() > PRECOMMITS_REMEMBERED {
                            status.precommits_here.pop_first();
                        }
                    }
                }
                Some(message)
            }
            Ok(SignOutcome::Refused(reason)) => {
                tracing::error!("{reason}");
                status.refused += 1;
                None
            }
            Err(SignError::Unavailable(reason)) => {
                if !status.unavailable {
                    status.unavailable = true;
                    tracing::error!(error = %reason, "the remote signer cannot be reached: this validator signs nothing until it answers again");
                }
                None
            }
            Err(SignError::Failed(e)) => {
                status.failed = Some(format!("{e:#}"));
                None
            }
        }
    }
}

impl ConsensusSigner for ShellSigner {
    fn public_key(&self) -> PublicKey {
        self.inner.public_key()
    }

    fn sign_proposal(&mut self, proposal: Proposal) -> Option<SignedProposal> {
        match self.sign(SignRequest::Proposal(proposal))? {
            Message::Proposal(signed) => Some(signed),
            Message::Vote(_) => None,
        }
    }

    fn sign_vote(&mut self, vote: Vote) -> Option<SignedVote> {
        match self.sign(SignRequest::Vote(vote))? {
            Message::Vote(signed) => Some(signed),
            Message::Proposal(_) => None,
        }
    }
}

/// `double_sign_check_height`: a precommit of the key in a commit that this signing state did
/// not make — above the position the state held when the node started, and not signed by this
/// process — means another copy of the key signs (or its state was lost), and this run signs
/// nothing more. At start the latest `window` commits in the store are checked
/// ([`DoubleSignCheck::check_store`]); while it runs, every commit it stores
/// ([`DoubleSignCheck::check_commit`]), which covers the heights it syncs on its way to the tip.
#[derive(Debug)]
pub struct DoubleSignCheck {
    /// Heights looked back at start (not 0: a check of 0 is no check).
    pub window: u64,
    /// The consensus key.
    pub key: PublicKey,
    /// The state's last position when the node started.
    pub start_last: Option<LastSigned>,
    /// Shared with the [`ShellSigner`].
    pub status: Arc<Mutex<SignerStatus>>,
}

impl DoubleSignCheck {
    /// Checks the latest `window` commits of `chain`'s store.
    pub fn check_store(&self, chain: &crate::chain::Chain) -> Result<()> {
        let tip = chain.height();
        for height in tip.saturating_sub(self.window - 1).max(1)..=tip {
            if let Some(commit) = chain.store.commit(height)? {
                self.check_commit(&commit);
            }
        }
        Ok(())
    }

    /// Blocks signing if `commit` holds a precommit of the key that this state did not make.
    pub fn check_commit(&self, commit: &Commit) {
        if !commit.signatures.iter().any(|s| s.validator == self.key) {
            return;
        }
        let position = (commit.height, commit.round, SignStep::Precommit);
        if self.start_last.is_some_and(|last| position <= last.position()) {
            return;
        }
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if status.blocked.is_some()
            || status.precommits_here.contains(&(commit.height, commit.round))
        {
            return;
        }
        let reason = format!(
            "double_sign_check_height: the commit of height {} holds a precommit of this validator's key {} that its signing state did not make (another copy of the key is signing, or its sign_state.json was lost): this node signs nothing until it is restarted; stop the other copy, or wait {} heights, before restarting it",
            commit.height, self.key, self.window
        );
        tracing::error!("{reason}");
        status.blocked = Some(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(dir: &Path) -> LocalSigner {
        let path = dir.join("sign_state.json");
        if !path.exists() {
            SignGuard::create_fresh(&path).unwrap();
        }
        let guard = SignGuard::open(&path, false, || unreachable!()).unwrap();
        LocalSigner::new(Keypair::dev("validator-0"), guard)
    }

    fn prevote(height: u64, block: u8) -> SignRequest {
        SignRequest::Vote(Vote {
            chain_id: "test".into(),
            height,
            round: 0,
            kind: VoteKind::Prevote,
            block: Some(kessai_primitives::Hash([block; 32])),
            validator: Keypair::dev("validator-0").public(),
        })
    }

    #[test]
    fn two_clients_of_one_signer_never_get_conflicting_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("signer.sock");
        let local = signer(dir.path());
        let path = socket.clone();
        std::thread::spawn(move || serve(&path, local));
        let address = SignerAddress::Unix(socket.clone());
        let mut first = RemoteSigner::connect(address.clone());
        let mut second = RemoteSigner::connect(address);
        assert_eq!(first.public_key(), Keypair::dev("validator-0").public());
        let signed = first.sign(prevote(3, 1)).unwrap();
        assert!(matches!(signed, SignOutcome::Signed(_)));
        // The same message again: the same signature; another block at that position: refused.
        assert_eq!(second.sign(prevote(3, 1)).unwrap(), signed);
        assert!(matches!(second.sign(prevote(3, 2)).unwrap(), SignOutcome::Refused(_)));
        assert!(matches!(second.sign(prevote(4, 2)).unwrap(), SignOutcome::Signed(_)));
        assert!(matches!(first.sign(prevote(3, 1)).unwrap(), SignOutcome::Refused(_)));
        let mode = std::fs::metadata(&socket).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_signer_refuses_another_key_and_the_address_must_be_a_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let mut local = signer(dir.path());
        let SignRequest::Vote(mut vote) = prevote(1, 1) else { unreachable!() };
        vote.validator = Keypair::dev("validator-1").public();
        assert!(matches!(local.sign(SignRequest::Vote(vote)).unwrap(), SignOutcome::Refused(_)));
        assert!(SignerAddress::parse("tcp://127.0.0.1:1234").is_err());
        assert!(SignerAddress::parse("unix://relative.sock").is_err());
        assert_eq!(
            SignerAddress::parse("unix:///run/s.sock").unwrap(),
            SignerAddress::Unix("/run/s.sock".into())
        );
    }

    #[test]
    fn a_stopped_signer_is_unavailable_at_once_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("signer.sock");
        let path = socket.clone();
        let local = signer(dir.path());
        std::thread::spawn(move || serve(&path, local));
        let mut remote = RemoteSigner::connect(SignerAddress::Unix(socket.clone()));
        // The connection breaks (as when the signer process dies): unavailable, not an error.
        remote.connection.as_ref().unwrap().shutdown(std::net::Shutdown::Both).unwrap();
        assert!(matches!(remote.sign(prevote(1, 1)), Err(SignError::Unavailable(_))));
        assert!(matches!(remote.sign(prevote(1, 1)), Err(SignError::Unavailable(_))));
        std::thread::sleep(RECONNECT_AFTER);
        assert!(matches!(remote.sign(prevote(1, 1)).unwrap(), SignOutcome::Signed(_)));
    }
}
