extern crate std;

use super::*;
use alloc::string::ToString;
use alloc::vec;

#[test]
fn borsh_layout_is_variant_index_then_fields() {
    assert_eq!(borsh::to_vec(&ProductionMethod::Oil).unwrap(), [5]);
    assert_eq!(
        borsh::to_vec(&ProductionMethod::Other { name: "x".into() }).unwrap(),
        [9, 1, 0, 0, 0, b'x']
    );
    assert_eq!(borsh::to_vec(&Status::Expired).unwrap(), [2]);
    assert_eq!(borsh::to_vec(&TransferKind::Final).unwrap(), [1]);
}

#[test]
fn an_address_parameter_encodes_as_its_32_bytes() {
    let record = AssetRecord {
        id: 1,
        provider: [1u8; 32],
        provided_at_ms: 2,
        amount: 3,
        method: ProductionMethod::Solar,
        owner: [4u8; 32],
        expiry_ms: 5,
        status: Status::NotYet,
        origin: None,
    };
    let bytes = borsh::to_vec(&record).unwrap();
    let mut expected = vec![];
    expected.extend(1u64.to_le_bytes());
    expected.extend([1u8; 32]);
    expected.extend(2u64.to_le_bytes());
    expected.extend(3u64.to_le_bytes());
    expected.push(0);
    expected.extend([4u8; 32]);
    expected.extend(5u64.to_le_bytes());
    expected.extend([0, 0]);
    assert_eq!(bytes, expected);
    assert_eq!(borsh::from_slice::<AssetRecord<[u8; 32]>>(&bytes).unwrap(), record);
}

#[test]
fn transfer_keys_hold_the_time_big_endian() {
    let key = storage::transfer_key(&[7u8; 32], 0x0102, 3);
    assert_eq!(&key[..2], b"t/");
    assert_eq!(&key[2..34], &[7; 32]);
    assert_eq!(&key[34..42], &[0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(&key[42..], &3u64.to_le_bytes());
}

#[test]
fn renewable_methods_and_names() {
    assert!(ProductionMethod::Solar.is_renewable());
    assert!(ProductionMethod::Geothermal.is_renewable());
    assert!(!ProductionMethod::Oil.is_renewable());
    assert!(!ProductionMethod::Nuclear.is_renewable());
    assert!(!ProductionMethod::Other { name: "tidal".into() }.is_renewable());
    assert_eq!(ProductionMethod::Solar.to_string(), "solar");
    assert_eq!(ProductionMethod::Geothermal.to_string(), "geothermal");
    assert_eq!(ProductionMethod::Other { name: "tidal".into() }.to_string(), "tidal");
}
