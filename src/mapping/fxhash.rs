//! A fast non-cryptographic hasher (the "Fx" hash of rustc and Firefox) for the per-login
//! group sets. std's SipHash costs more than the rest of a mapping for 200 groups.
//!
//! Hash flooding is not a concern here: group names arrive inside a signed assertion from a
//! configured IdP, at most a few hundred per login, and the worst case (every name colliding)
//! is a few hundred thousand string comparisons, still well under a millisecond.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Clone, Copy, Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (d, s) in word.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuildHasher = BuildHasherDefault<FxHasher>;

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
        let set: HashSet<&str, FxBuildHasher> = words.iter().copied().collect();
        assert_eq!(set.len(), words.len());
        for w in words {
            assert!(set.contains(w));
        }
    }
}
