// Types of @kessai/light-client. Hashes, keys, signatures and byte strings are lower-case hex;
// heights, powers and times (ms since the Unix epoch) are numbers. Headers, commits and validator
// sets are the node's JSON (docs/light-client.md, sections 4 to 6).

export type Hex = string;

export interface Header {
  /** The rules the block follows (docs/light-client.md, section 4). */
  protocol_version: number;
  chain_id: string;
  height: number;
  time_ms: number;
  parent: Hex;
  proposer: Hex;
  /** Number of transactions (and receipts): inclusion proofs must have this total. */
  tx_count: number;
  txs_root: Hex;
  receipts_root: Hex;
  state_root: Hex;
  validators_hash: Hex;
  next_validators_hash: Hex;
  last_commit_hash: Hex;
  evidence_hash: Hex;
  /** Fields of later protocol versions pass through to the light client, which decides. */
  [field: string]: unknown;
}
export interface Commit {
  height: number;
  round: number;
  block: Hex;
  signatures: { validator: Hex; signature: Hex }[];
}
export interface ValidatorSet {
  validators: { public_key: Hex; power: number }[];
}
/** What to keep between runs: a verified header, its commit and both validator sets. */
export interface TrustedState {
  chain_id: string;
  header: Header;
  commit: Commit;
  validators: ValidatorSet;
  next_validators: ValidatorSet;
}
export interface TrustOptions {
  /** Default 14 days. */
  trustingPeriodMs?: number;
  /** [numerator, denominator] in [1/3, 1]; default [1, 3]. */
  trustThreshold?: [number, number];
  /** Default 10 s. */
  maxClockDriftMs?: number;
}
export type Trust =
  | { height: number; hash: Hex }
  | { chainId: string; validators: ValidatorSet }
  | { state: TrustedState };

/** A position in the chain's history (docs/rpc.md, "Cursors"). */
export interface Cursor {
  height: number;
  tx: number;
  event: number;
}
export interface VerifiedHeader {
  height: number;
  hash: Hex;
  chainId: string;
  timeMs: number;
  stateRoot: Hex;
  validatorsHash: Hex;
  signedPower: number;
  totalPower: number;
  header: Header;
}
export interface VerifiedValue {
  height: number;
  headerHash: Hex;
  /** null: the key is proven absent. */
  value: Hex | null;
  proof: Hex;
  signedPower: number;
  totalPower: number;
}
export interface VerifiedContractName extends VerifiedValue {
  /** null: no contract has this name at that height (proven). */
  address: Hex | null;
}
export interface Event {
  contract: Hex;
  topic: string;
  data: Hex;
}
export interface Receipt {
  tx_id: Hex;
  status: { status: 'success' } | { status: 'failed'; reason: string };
  gas_used: number;
  return_data: Hex;
  events: Event[];
  created: Hex | null;
}
export interface VerifiedTx {
  height: number;
  index: number;
  headerHash: Hex;
  txId: Hex;
  /** borsh of the signed transaction: the leaf proven under txs_root. */
  tx: Hex;
  signer: Hex;
  nonce: number;
  /** A contract call's target, method and borsh arguments; null for other payloads. */
  call: { contract: Hex; method: string; args: Hex } | null;
  receipt: Receipt;
  signedPower: number;
  totalPower: number;
}
/** An event as kessai_events and kessai_subscribeEvents give it (not verified). */
export interface EventInfo {
  height: number;
  tx_id: Hex;
  event: Event;
  decoded: unknown;
  cursor: Cursor;
}
export interface Head {
  cursor: Cursor;
  header: Header;
  commit: Commit;
}
export type WitnessCheck =
  | null
  | { height: number; outcome: 'confirmed' }
  | { height: number; outcome: 'unavailable' | 'faulty'; reason: string };

/** The light client's source of (untrusted) data: each method resolves to the RPC method's result. */
export interface Provider {
  latestHeight(): Promise<{ height: number }>;
  header(height: number): Promise<Header>;
  commit(height: number): Promise<Commit>;
  validators(height: number): Promise<ValidatorSet>;
  state(flatKey: Hex, height: number): Promise<{ height: number; key: Hex; value: Hex | null; proof: Hex }>;
  tx(txId: Hex): Promise<unknown>;
}

/** A refusal: `kind` says why. */
export interface LightClientError extends Error {
  kind: 'verification' | 'notFound' | 'unavailable' | 'notConfirmed' | 'fork' | 'distrusted' | 'invalid' | 'busy';
  evidence?: unknown;
}

export class RpcProvider implements Provider {
  constructor(url: string, options?: { maxLagMs?: number; timeoutMs?: number; fetch?: typeof fetch });
  readonly url: string;
  call(method: string, params?: unknown[]): Promise<any>;
  latestHeight(): Promise<{ height: number }>;
  header(height: number): Promise<Header>;
  commit(height: number): Promise<Commit>;
  validators(height: number): Promise<ValidatorSet>;
  state(flatKey: Hex, height: number): Promise<{ height: number; key: Hex; value: Hex | null; proof: Hex }>;
  tx(txId: Hex): Promise<unknown>;
}
export class RpcError extends Error {
  code: number | undefined;
  notFound: boolean;
}
export class SubscriptionError extends Error {
  code: number;
  cursor?: Cursor;
}
export class Subscription<T> implements AsyncIterableIterator<T> {
  static open<T = unknown>(url: string, method: string, params: unknown[], options?: { WebSocket?: unknown }): Promise<Subscription<T>>;
  next(): Promise<IteratorResult<T>>;
  return(): Promise<IteratorResult<T>>;
  [Symbol.asyncIterator](): AsyncIterableIterator<T>;
  close(): void;
}
export interface FollowOptions {
  retryMs?: number;
  WebSocket?: unknown;
}
export function follow<T extends { cursor: Cursor }>(url: string, method: string, paramsFrom: (cursor: Cursor | null) => unknown[], options?: FollowOptions & { start?: Cursor | null }): AsyncGenerator<T>;
export function followHeads(url: string, options?: FollowOptions & { afterHeight?: number | null }): AsyncGenerator<Head>;
export function followEvents(url: string, contract: string, options?: FollowOptions & { topic?: string | null; after?: Cursor | null }): AsyncGenerator<EventInfo>;
/** A page of `kessai_subscribeEventPages`: up to 256 events; resume with `after = cursor`. */
export interface EventPage {
  events: EventInfo[];
  cursor: Cursor;
}
export function followEventPages(url: string, contract: string, options?: FollowOptions & { topic?: string | null; after?: Cursor | null }): AsyncGenerator<EventPage>;

export class LightClient {
  sync(height?: number): Promise<VerifiedHeader>;
  verifyHead(head: { header: Header; commit: Commit }): Promise<VerifiedHeader>;
  verifyState(flatKey: Hex, height: number): Promise<VerifiedValue>;
  verifyContractName(name: string, height: number): Promise<VerifiedContractName>;
  verifyTx(txId: Hex): Promise<VerifiedTx | null>;
  verifyEvent(event: EventInfo): Promise<VerifiedTx>;
  verifiedHeads(options?: FollowOptions & { afterHeight?: number | null; url?: string }): AsyncGenerator<VerifiedHeader>;
  verifiedEvents(contract: string, options?: FollowOptions & { topic?: string | null; after?: Cursor | null; url?: string }): AsyncGenerator<{ event: EventInfo; tx: VerifiedTx }>;
  latest(): VerifiedHeader;
  trustedState(): TrustedState;
  witnessChecks(): WitnessCheck[];
  forkEvidence(): unknown | null;
}

export function connect(args: {
  rpc: string | Provider;
  witnesses?: (string | Provider)[];
  trust: Trust;
  options?: TrustOptions;
  now?: () => number;
}): Promise<LightClient>;

export function verifyHeader(trusted: TrustedState, header: Header, commit: Commit, validators: ValidatorSet, nowMs: number, options?: TrustOptions): number;
export function verifyStateProof(stateRoot: Hex, flatKey: Hex, value: Hex | null, proof: Hex): void;
export function headerHash(header: Header): Hex;
export function contractKey(contract: Hex, storageKey: Hex): Hex;
export function mapKey(contract: Hex, prefix: string | Uint8Array, borshKey: Hex | Uint8Array): Hex;
