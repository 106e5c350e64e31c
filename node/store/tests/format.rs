//! The store's format version: a database written with another layout is refused on open, with
//! the way forward named (`kessai db migrate`), and nothing in it is converted.

use kessai_store::{Store, StoreError, FORMAT_VERSION};

/// Rewrites the `format` the database at `path` records, as an older build would have left it.
fn stamp_format(path: &std::path::Path, version: u32) {
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), path, &families).unwrap();
    let meta = db.cf_handle("meta").expect("meta family");
    db.put_cf(meta, b"format", version.to_be_bytes()).unwrap();
}

fn format_in(path: &std::path::Path) -> u32 {
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), path).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), path, &families).unwrap();
    let meta = db.cf_handle("meta").expect("meta family");
    let bytes = db.get_cf(meta, b"format").unwrap().expect("format recorded");
    u32::from_be_bytes(bytes.try_into().unwrap())
}

#[test]
fn a_database_of_the_previous_format_is_refused_and_left_as_it_is() {
    assert_eq!(FORMAT_VERSION, 2, "headers with protocol_version and tx_count");
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    assert_eq!(format_in(dir.path()), FORMAT_VERSION, "a new database is stamped");

    stamp_format(dir.path(), 1);
    let err = Store::open(dir.path()).map(|_| ()).unwrap_err();
    assert!(matches!(err, StoreError::Format { expected: 2, found: 1 }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("kessai db migrate --home HOME"), "{message}");
    assert!(message.contains("never converts a database on start"), "{message}");
    assert_eq!(format_in(dir.path()), 1, "opening converted nothing");
}
