use crate::common::*;
use kessai_primitives::{Address, Event, Keypair};

fn view(chain: &Chain, contract: Address, method: &str, args: Vec<u8>) -> Vec<u8> {
    chain.runtime.view(&chain.state, &chain.context(chain.height), contract, method, &args).unwrap()
}

#[test]
fn caller_signer_self_height_and_time() {
    let (mut chain, kv) = chain_with_kitchen();
    let receipt = chain.run(chain.tx(&bob(), call(kv, "env", vec![])));
    assert_success(&receipt);
    let env = receipt.return_data;
    assert_eq!(env.len(), 112);
    assert_eq!(&env[0..32], &bob().public().0, "caller: the signer, when called by a transaction");
    assert_eq!(&env[32..64], &bob().public().0, "signer");
    assert_eq!(&env[64..96], &kv.0, "self_address");
    let height = u64::from_le_bytes(env[96..104].try_into().unwrap());
    let time = u64::from_le_bytes(env[104..112].try_into().unwrap());
    assert_eq!(height, chain.height, "the block that executed it");
    assert_eq!(time, chain.context(chain.height).time_ms, "block time, not a wall clock");
}

#[test]
fn events_are_in_the_receipt() {
    let (mut chain, kv) = chain_with_kitchen();
    let receipt = chain.call(kv, "emit", args(&[b"created", &[1, 2, 3]]));
    assert_success(&receipt);
    assert_eq!(
        receipt.events,
        vec![Event { contract: kv, topic: "created".into(), data: vec![1, 2, 3] }]
    );
    let long_topic = vec![b't'; 129];
    let receipt = chain.call(kv, "emit", args(&[&long_topic, b""]));
    assert_eq!(failure(&receipt), "trap: event topic is 129 bytes; the limit is 128");
    let receipt = chain.call(kv, "emit", args(&[&[0xff, 0xfe], b""]));
    assert_eq!(failure(&receipt), "trap: event topic is not UTF-8");
}

#[test]
fn hashes_match_known_vectors() {
    let (chain, kv) = chain_with_kitchen();
    let cases = [
        (
            &b"abc"[..],
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            &b""[..],
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ];
    for (input, blake3, sha256) in cases {
        let out = view(&chain, kv, "hashes", bytes(input));
        assert_eq!(hex::encode(&out[..32]), blake3);
        assert_eq!(hex::encode(&out[32..]), sha256);
    }
}

fn verify(chain: &Chain, kv: Address, key: [u8; 32], signature: [u8; 64], message: &[u8]) -> u8 {
    let mut input = key.to_vec();
    input.extend_from_slice(&signature);
    input.extend(bytes(message));
    let out = view(chain, kv, "verify", input);
    assert_eq!(out.len(), 1);
    out[0]
}

#[test]
fn ed25519_verify_checks_raw_messages() {
    let (chain, kv) = chain_with_kitchen();
    // RFC 8032, section 7.1, TEST 1 (empty message).
    let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key = Keypair::from_seed(seed.unwrap().try_into().unwrap());
    let expected_key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    assert_eq!(key.public().to_hex(), expected_key);
    let signature: [u8; 64] = hex::decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    )
    .unwrap()
    .try_into()
    .unwrap();
    assert_eq!(verify(&chain, kv, key.public().0, signature, b""), 1);
    assert_eq!(verify(&chain, kv, key.public().0, signature, b"x"), 0);

    // A signature made in Rust over a raw message (the empty domain adds nothing).
    let signer = Keypair::dev("signer");
    let message = b"pay 10 to bob";
    let signature = signer.sign(b"", message).0;
    assert_eq!(verify(&chain, kv, signer.public().0, signature, message), 1);
    assert_eq!(verify(&chain, kv, Keypair::dev("other").public().0, signature, message), 0);
    // A key that is not a curve point is simply invalid.
    let mut bad_key = [0u8; 32];
    bad_key[0] = 2;
    assert_eq!(verify(&chain, kv, bad_key, signature, message), 0);
}

#[test]
fn nan_results_are_canonical() {
    let (chain, kv) = chain_with_kitchen();
    let run = |a: u64, b: u64| {
        let out = view(&chain, kv, "nan", borsh::to_vec(&(a, b)).unwrap());
        (
            u64::from_le_bytes(out[0..8].try_into().unwrap()),
            u64::from_le_bytes(out[8..16].try_into().unwrap()),
            u32::from_le_bytes(out[16..20].try_into().unwrap()),
        )
    };
    const CANONICAL_F64: u64 = 0x7ff8_0000_0000_0000;
    const CANONICAL_F32: u32 = 0x7fc0_0000;
    // 0 / 0: x86 hardware gives the negative "default NaN" 0xfff8…; canonicalised it is 0x7ff8….
    assert_eq!(run(0, 0), (CANONICAL_F64, 0, CANONICAL_F32));
    // A signalling NaN with a payload: hardware would keep the payload; canonicalised it is gone.
    let signalling = 0x7ff0_0000_0000_0001;
    assert_eq!(run(signalling, 0), (CANONICAL_F64, CANONICAL_F64, CANONICAL_F32));
    let negative_payload = 0xfff0_0000_dead_beef;
    assert_eq!(
        run(negative_payload, 1.0f64.to_bits()),
        (CANONICAL_F64, CANONICAL_F64, CANONICAL_F32)
    );
    // Ordinary arithmetic is untouched.
    let (div, add, _) = run(6.0f64.to_bits(), 3.0f64.to_bits());
    assert_eq!((f64::from_bits(div), f64::from_bits(add)), (2.0, 9.0));
}

#[test]
fn gas_left_decreases_and_is_charged() {
    let (mut chain, kv) = chain_with_kitchen();
    let receipt = chain.call(kv, "gas", vec![]);
    assert_success(&receipt);
    let left = i64::from_le_bytes(receipt.return_data[..8].try_into().unwrap()) as u64;
    assert!(left < GAS && left > GAS - 100_000, "{left}");
    assert!(receipt.gas_used > GAS - left, "the rest of the call is charged too");
    assert!(receipt.gas_used > 20_000, "intrinsic cost");
}
