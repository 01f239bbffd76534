//! Canonical JSON: the exact bytes that get hashed, stored and later pushed.
//!
//! oci-spec keeps maps (labels, annotations, exposed ports) in `HashMap`s, which serialize in
//! random order. Going through `serde_json::Value`, whose maps are `BTreeMap`s as long as
//! serde_json's `preserve_order` feature stays off, sorts every object's keys, so the same
//! image always has the same digest.

use serde::Serialize;

/// Serializes `value` compactly with every object's keys sorted.
pub fn to_vec<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&serde_json::to_value(value)?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    #[test]
    fn keys_come_out_sorted_whatever_the_hash_order() {
        let map: HashMap<String, u32> = (0..50).map(|i| (format!("k{i:02}"), i)).collect();
        let out = String::from_utf8(super::to_vec(&map).unwrap()).unwrap();
        let keys: Vec<&str> = out.split('"').skip(1).step_by(2).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.len(), 50);
    }
}
