//! String interning with a fast non-cryptographic hash (the history is trusted not to be
//! adversarial for hash flooding; it is checked offline).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An FxHash-style hasher (rotate, xor, multiply) with a final mix.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let h = self.hash;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

/// A `HashMap` with [`FxHasher`].
pub(crate) type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `HashSet` with [`FxHasher`].
pub(crate) type FxHashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// Sentinel index meaning "no value" (the key had none); never handed out by an [`Interner`].
pub(crate) const ABSENT: u32 = u32::MAX;

/// Maps strings to dense `u32` ids. Strings of up to 7 bytes (client ids, keys like
/// `k00042`) are looked up packed into a `u64`, first in a small direct-mapped cache, without
/// touching their heap copy.
pub(crate) struct Interner {
    cache: Vec<(u64, u32)>,
    short: FxHashMap<u64, u32>,
    long: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

/// Entries of the direct-mapped cache (a power of two).
const CACHE: usize = 1 << 10;

/// Marks an empty cache entry: no packed string has all bits set (its length byte is < 8).
const EMPTY: u64 = u64::MAX;

impl Default for Interner {
    fn default() -> Self {
        Interner {
            cache: vec![(EMPTY, 0); CACHE],
            short: FxHashMap::default(),
            long: FxHashMap::default(),
            names: Vec::new(),
        }
    }
}

/// `s` (at most 7 bytes) and its length packed into a `u64`.
#[inline]
fn pack(s: &[u8]) -> u64 {
    let n = s.len();
    let bytes = if n >= 4 {
        // Two overlapping 4-byte loads cover 4 to 7 bytes.
        let lo = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let hi = u32::from_le_bytes([s[n - 4], s[n - 3], s[n - 2], s[n - 1]]);
        u64::from(lo) | u64::from(hi) << (8 * (n - 4))
    } else {
        s.iter()
            .enumerate()
            .fold(0, |x, (i, &b)| x | u64::from(b) << (8 * i))
    };
    bytes | (n as u64) << 56
}

impl Interner {
    /// The id of `s`, assigning the next one if it is new. Panics past `u32::MAX - 1` distinct
    /// strings (a history of hundreds of gigabytes).
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if s.len() < 8 {
            let packed = pack(s.as_bytes());
            let slot = (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize % CACHE;
            let (cached, id) = self.cache[slot];
            if cached == packed {
                return id;
            }
            let id = match self.short.get(&packed) {
                Some(&id) => id,
                None => {
                    let id = self.push(s);
                    self.short.insert(packed, id);
                    id
                }
            };
            self.cache[slot] = (packed, id);
            id
        } else {
            if let Some(&id) = self.long.get(s) {
                return id;
            }
            let id = self.push(s);
            self.long.insert(s.into(), id);
            id
        }
    }

    fn push(&mut self, s: &str) -> u32 {
        let id = u32::try_from(self.names.len())
            .ok()
            .filter(|&id| id != ABSENT)
            .expect("history checker limit: more than 4,294,967,294 distinct strings of one kind");
        self.names.push(s.into());
        id
    }

    /// The string of `id`.
    pub(crate) fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// How many distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}
