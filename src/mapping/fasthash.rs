//! A fast non-cryptographic hasher for the group-name maps: 16 bytes per multiply (the folded
//! multiply of foldhash and aHash's fallback). With std's SipHash, hashing was the largest
//! single cost of mapping a login with 200 groups (benches/mapping.rs).
//!
//! Hash flooding is not a concern here: group names arrive inside a signed assertion from a
//! configured IdP, at most a few hundred per login, and the worst case (every name colliding)
//! is a few hundred thousand string comparisons, still well under a millisecond.

use std::hash::{BuildHasherDefault, Hasher};

const K1: u64 = 0x243f_6a88_85a3_08d3;
const K2: u64 = 0x1319_8a2e_0370_7344;
const K3: u64 = 0xa409_3822_299f_31d0;

/// The high and low halves of a 64x64-bit product, xored: one multiply mixes 16 bytes.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(bytes) {
        *d = *s;
    }
    u64::from_le_bytes(w)
}

#[derive(Clone, Copy, Default)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.hash ^ (bytes.len() as u64).wrapping_mul(K3);
        let mut chunks = bytes.chunks_exact(16);
        for chunk in &mut chunks {
            let (a, b) = chunk.split_at(8);
            h = folded_multiply(word(a) ^ h ^ K1, word(b) ^ K2);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let (a, b) = rest.split_at(rest.len().min(8));
            h = folded_multiply(word(a) ^ h ^ K1, word(b) ^ K2);
        }
        self.hash = h;
    }

    fn write_u8(&mut self, i: u8) {
        self.hash = folded_multiply(self.hash ^ u64::from(i) ^ K1, K2);
    }

    fn write_usize(&mut self, i: usize) {
        self.hash = folded_multiply(self.hash ^ (i as u64) ^ K1, K2);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.hash ^ K3, K1)
    }
}

pub(crate) type FastBuildHasher = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinguishes_strings_that_differ_only_in_length_or_tail() {
        let words = [
            "",
            "a",
            "a\0",
            "abcdefgh",
            "abcdefghi",
            "abcdefgh\0",
            "José",
            "Jos\u{e9}x",
        ];
        let set: HashSet<&str, FastBuildHasher> = words.iter().copied().collect();
        assert_eq!(set.len(), words.len());
        for w in words {
            assert!(set.contains(w));
        }
    }
}
