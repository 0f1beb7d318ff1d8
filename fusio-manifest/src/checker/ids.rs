//! Value ids: parsing `client:op:attempt`, the table from those to attempt slots, and dense
//! ids with the bit that marks a delete in a version chain.

use super::intern::FxHashMap;

/// Maps `(client, op, attempt)` to attempt slots: per client, a dense table indexed by
/// `op * DENSE_ATTEMPTS + attempt` (clients number their ops densely), kept at most about
/// 16 times as large as the entries it holds; anything else in a hash map.
#[derive(Default)]
pub(super) struct Slots {
    dense: Vec<Vec<u32>>,
    used: Vec<usize>,
    sparse: FxHashMap<(u32, u64, u32), u32>,
}

/// Attempts per op held in the dense tables.
const DENSE_ATTEMPTS: u64 = 4;

/// An empty entry of a dense table.
const NO_SLOT: u32 = u32::MAX;

impl Slots {
    /// The slot of `(client, op, attempt)`, or `next` (now recorded) if it has none.
    pub(super) fn get_or_insert(&mut self, client: u32, op: u64, attempt: u32, next: u32) -> u32 {
        let c = client as usize;
        if c >= self.dense.len() {
            self.dense.resize_with(c + 1, Vec::new);
            self.used.resize(c + 1, 0);
        }
        let index = op
            .checked_mul(DENSE_ATTEMPTS)
            .filter(|_| u64::from(attempt) < DENSE_ATTEMPTS)
            .map(|i| i + u64::from(attempt));
        let table = &mut self.dense[c];
        let limit = 8 * self.used[c] as u64 + 4096;
        match index {
            Some(i) if i < table.len() as u64 || i < limit => {
                let i = i as usize;
                if i >= table.len() {
                    table.resize((i + 1).next_power_of_two(), NO_SLOT);
                }
                if table[i] == NO_SLOT {
                    // It may have been put in the hash map while the table was smaller.
                    table[i] = if self.sparse.is_empty() {
                        next
                    } else {
                        *self.sparse.get(&(client, op, attempt)).unwrap_or(&next)
                    };
                    self.used[c] += 1;
                }
                table[i]
            }
            _ => *self.sparse.entry((client, op, attempt)).or_insert(next),
        }
    }
}

/// The next dense id after `len` ids. Panics past 2,147,483,647 write attempts or read
/// operations (a history of hundreds of gigabytes): the top bit of a value id marks a delete
/// in a version chain.
pub(super) fn next_id(len: usize) -> u32 {
    u32::try_from(len)
        .ok()
        .filter(|&id| id < DELETED)
        .expect("history checker limit: more than 2,147,483,647 attempts or reads")
}

/// Marks a version chain entry as a delete by the value id it is combined with.
pub(super) const DELETED: u32 = 1 << 31;

/// Splits a canonical value id `client:op:attempt` (client non-empty; op and attempt decimal
/// without leading zeros). Any other spelling is kept as an opaque string, so that two
/// spellings of one number are two different values.
pub(super) fn parse_value_id(id: &str) -> Option<(&str, u64, u32)> {
    /// A canonical decimal number (no sign, no leading zero) that fits in a `u64`.
    fn number(s: &[u8]) -> Option<u64> {
        if s.is_empty() || (s.len() > 1 && s[0] == b'0') {
            return None;
        }
        s.iter().try_fold(0u64, |n, &b| {
            let digit = b.wrapping_sub(b'0');
            (digit < 10).then_some(())?;
            n.checked_mul(10)?.checked_add(u64::from(digit))
        })
    }
    let b = id.as_bytes();
    let first = b.iter().position(|&c| c == b':')?;
    let second = first + 1 + b[first + 1..].iter().position(|&c| c == b':')?;
    if first == 0 {
        return None;
    }
    let op = number(&b[first + 1..second])?;
    let attempt = u32::try_from(number(&b[second + 1..])?).ok()?;
    Some((&id[..first], op, attempt))
}
