//! Keys of the `results` column family and the content hash.

use crate::SCHEMA_VERSION;

/// Length in bytes of an encoded [`ResultKey`]:
/// 2 (schema version) + 16 (validator id) + 16 (content hash).
pub const RESULT_KEY_LEN: usize = 2 + 16 + 16;

/// Length in bytes of the prefix shared by all results of one validator:
/// 2 (schema version) + 16 (validator id).
pub(crate) const VALIDATOR_PREFIX_LEN: usize = 2 + 16;

/// xxh3-128 of `bytes`: the content hash used in [`ResultKey::content`] and
/// [`crate::StatEntry::content_hash`].
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// The key of one cached validation result: *this validator* (name and
/// effective configuration) applied to *these bytes*.
///
/// Encoded by [`to_bytes`](Self::to_bytes) as
/// `[SCHEMA_VERSION: u16 BE][validator: 16 bytes][content: 16 bytes]`, so all
/// results of one validator are contiguous (which makes per-validator clears
/// a single range delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResultKey {
    /// xxh3-128 of the validator's name and effective configuration, computed
    /// by the caller (big-endian bytes if it comes from a `u128`).
    pub validator: [u8; 16],
    /// xxh3-128 of the file's bytes (see [`content_hash`]), big-endian; the
    /// caller may fold more into it (verdict folds in the file's path for
    /// external tools, its executable bit for a set that reads it).
    pub content: [u8; 16],
}

impl ResultKey {
    /// A key from the validator id and content hash bytes.
    pub const fn new(validator: [u8; 16], content: [u8; 16]) -> ResultKey {
        ResultKey { validator, content }
    }

    /// A key from the two 128-bit hashes, stored big-endian.
    pub const fn from_hashes(validator: u128, content: u128) -> ResultKey {
        ResultKey { validator: validator.to_be_bytes(), content: content.to_be_bytes() }
    }

    /// The on-disk key: `[SCHEMA_VERSION: u16 BE][validator][content]`.
    pub fn to_bytes(&self) -> [u8; RESULT_KEY_LEN] {
        let mut out = [0u8; RESULT_KEY_LEN];
        out[..2].copy_from_slice(&SCHEMA_VERSION.to_be_bytes());
        out[2..VALIDATOR_PREFIX_LEN].copy_from_slice(&self.validator);
        out[VALIDATOR_PREFIX_LEN..].copy_from_slice(&self.content);
        out
    }

    /// Parses an on-disk key; `None` if the length or schema version is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Option<ResultKey> {
        if bytes.len() != RESULT_KEY_LEN || bytes[..2] != SCHEMA_VERSION.to_be_bytes() {
            return None;
        }
        let mut key = ResultKey::new([0; 16], [0; 16]);
        key.validator.copy_from_slice(&bytes[2..VALIDATOR_PREFIX_LEN]);
        key.content.copy_from_slice(&bytes[VALIDATOR_PREFIX_LEN..]);
        Some(key)
    }
}

/// The key prefix shared by every result of `validator`.
pub(crate) fn validator_prefix(validator: &[u8; 16]) -> [u8; VALIDATOR_PREFIX_LEN] {
    let mut out = [0u8; VALIDATOR_PREFIX_LEN];
    out[..2].copy_from_slice(&SCHEMA_VERSION.to_be_bytes());
    out[2..].copy_from_slice(validator);
    out
}

/// An exclusive upper bound for every key starting with `prefix`: the
/// lexicographic successor of the prefix (increment the last byte that is not
/// 0xff and truncate after it). `None` if the prefix is all 0xff (or empty),
/// i.e. there is no finite upper bound.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}
