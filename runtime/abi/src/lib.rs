//! Contract interfaces: the schema in a wasm custom section, and JSON <-> borsh by that schema
