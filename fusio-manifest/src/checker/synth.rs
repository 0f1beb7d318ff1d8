//! A synthetic, valid history: a simulation of a correct strictly serializable manifest under
//! the chaos workload, for tests and the checker benchmark.

use std::collections::VecDeque;

use crate::history::{Event, OpKind, Outcome};

const WRITERS: usize = 8;
const READERS: usize = 8;
const KEYS: usize = 500;
const MAX_RETRY: u32 = 3;

/// xorshift64* pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (((self.next() >> 32) * (hi - lo)) >> 32)
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.range(0, 1000) < per_mille
    }
}

/// What a simulated client does at its next event time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Start the next operation (or stop if none is left).
    Idle,
    /// The session opens: take the snapshot.
    Open,
    /// The attempt or operation completes.
    Complete,
    /// No operations left.
    Done,
}

struct SimClient {
    name: String,
    writer: bool,
    next_t: u64,
    phase: Phase,
    op: u64,
    attempt: u32,
    key: usize,
    snapshot: Option<u64>,
    opens: bool,
}

struct Synth {
    rng: Rng,
    clients: Vec<SimClient>,
    remaining: usize,
    head: u64,
    keys: Vec<String>,
    /// Per key: `(txn, value index)` of each committed version.
    chains: Vec<Vec<(u64, u32)>>,
    values: Vec<String>,
    out: VecDeque<Event>,
    done: bool,
}

/// A realistic valid history of `n_ops` operations, deterministic for a `seed`: 8 writers and
/// 8 readers on 500 keys, about 30% write operations (with precondition failures and their
/// retries, indeterminate writes that did and did not commit, sessions that never open), 70%
/// read operations of 1-3 keys (a few are scans, a few fail), and a final state. Events are
/// produced lazily in time order, so it can stream millions of operations into the checker.
pub fn synthetic_history(n_ops: usize, seed: u64) -> impl Iterator<Item = Event> {
    let mut rng = Rng::new(seed);
    let clients = (0..WRITERS + READERS)
        .map(|i| {
            let writer = i < WRITERS;
            SimClient {
                name: if writer {
                    format!("w{i}")
                } else {
                    format!("r{}", i - WRITERS)
                },
                writer,
                next_t: rng.range(0, 1000),
                phase: Phase::Idle,
                op: 0,
                attempt: 0,
                key: 0,
                snapshot: None,
                opens: true,
            }
        })
        .collect();
    let mut synth = Synth {
        rng,
        clients,
        remaining: n_ops,
        head: 0,
        keys: (0..KEYS).map(|k| format!("k{k:05}")).collect(),
        chains: vec![Vec::new(); KEYS],
        values: Vec::new(),
        out: VecDeque::new(),
        done: false,
    };
    std::iter::from_fn(move || loop {
        if let Some(e) = synth.out.pop_front() {
            return Some(e);
        }
        if synth.done {
            return None;
        }
        synth.step();
    })
}

impl Synth {
    /// The value index of `key` after txn `t`.
    fn state(&self, key: usize, t: u64) -> Option<u32> {
        let c = &self.chains[key];
        let i = c.partition_point(|e| e.0 <= t);
        i.checked_sub(1).map(|i| c[i].1)
    }

    fn value(&self, v: Option<u32>) -> Option<String> {
        v.map(|v| self.values[v as usize].clone())
    }

    /// Advances the client with the earliest pending event.
    fn step(&mut self) {
        let Some(c) = (0..self.clients.len())
            .filter(|&c| self.clients[c].phase != Phase::Done)
            .min_by_key(|&c| self.clients[c].next_t)
        else {
            let t = self.clients.iter().map(|c| c.next_t).max().unwrap_or(0) + 1;
            let state = (0..KEYS)
                .filter_map(|k| {
                    let v = self.chains[k].last()?.1;
                    Some((self.keys[k].clone(), self.values[v as usize].clone()))
                })
                .collect();
            self.out.push_back(Event::Final {
                t_us: t,
                head_txn: self.head,
                state,
            });
            self.done = true;
            return;
        };
        let t = self.clients[c].next_t;
        match self.clients[c].phase {
            Phase::Idle if self.remaining == 0 => self.clients[c].phase = Phase::Done,
            Phase::Idle => {
                self.remaining -= 1;
                let key = self.rng.range(0, KEYS as u64) as usize;
                let cl = &mut self.clients[c];
                cl.op += 1;
                cl.attempt = 0;
                cl.key = key;
                self.invoke(c, t);
            }
            Phase::Open => {
                let opens = self.clients[c].opens;
                let cl = &mut self.clients[c];
                cl.snapshot = opens.then_some(self.head);
                cl.phase = Phase::Complete;
                cl.next_t = t + if cl.writer {
                    self.rng.range(100, 500)
                } else {
                    self.rng.range(200, 1000)
                };
            }
            Phase::Complete if self.clients[c].writer => self.complete_write(c, t),
            Phase::Complete => self.complete_read(c, t),
            Phase::Done => {}
        }
    }

    fn invoke(&mut self, c: usize, t: u64) {
        let opens = !self.rng.chance(3);
        let open_latency = self.rng.range(100, 600);
        let cl = &mut self.clients[c];
        cl.opens = opens || !cl.writer;
        cl.phase = Phase::Open;
        cl.next_t = t + open_latency;
        self.out.push_back(Event::Invoke {
            client: cl.name.clone(),
            op: cl.op,
            attempt: cl.attempt,
            kind: if cl.writer {
                OpKind::Write
            } else {
                OpKind::Read
            },
            t_us: t,
            key: cl.writer.then(|| self.keys[cl.key].clone()),
        });
    }

    fn complete_write(&mut self, c: usize, t: u64) {
        let (key, snapshot) = (self.clients[c].key, self.clients[c].snapshot);
        let cl = &self.clients[c];
        let wrote = format!("{}:{}:{}", cl.name, cl.op, cl.attempt);
        let roll = self.rng.range(0, 1000);
        let (outcome, txn_id, read, error) = match snapshot {
            None => (
                Outcome::Info,
                None,
                None,
                Some("timeout opening the session".to_string()),
            ),
            Some(s) => {
                let read = Some(self.state(key, s));
                if self.head != s {
                    let e = Some("precondition failed".to_string());
                    (Outcome::Fail, None, read, e)
                } else if roll < 10 {
                    // Timed out before the commit was sent: not applied.
                    (Outcome::Info, None, read, Some("timeout".to_string()))
                } else {
                    self.head += 1;
                    self.chains[key].push((self.head, self.values.len() as u32));
                    self.values.push(wrote.clone());
                    if roll < 30 {
                        // Applied, but the acknowledgement was lost.
                        (Outcome::Info, None, read, Some("timeout".to_string()))
                    } else {
                        (Outcome::Ok, Some(self.head), read, None)
                    }
                }
            }
        };
        let read_value = read.and_then(|r| self.value(r));
        let cl = &self.clients[c];
        self.out.push_back(Event::Write {
            client: cl.name.clone(),
            op: cl.op,
            attempt: cl.attempt,
            t_us: t,
            outcome,
            key: self.keys[key].clone(),
            snapshot_txn: snapshot,
            read_done: read.is_some(),
            read: read_value,
            wrote,
            txn_id,
            error,
        });
        if outcome == Outcome::Fail && cl.attempt < MAX_RETRY {
            let backoff = self.rng.range(0, 500);
            self.clients[c].attempt += 1;
            self.invoke(c, t + backoff);
        } else {
            let think = self.rng.range(3000, 10000);
            let cl = &mut self.clients[c];
            cl.phase = Phase::Idle;
            cl.next_t = t + think;
        }
    }

    fn complete_read(&mut self, c: usize, t: u64) {
        let snapshot = self.clients[c].snapshot.unwrap_or(self.head);
        let roll = self.rng.range(0, 1000);
        let (outcome, scan, reads, error) = if roll < 10 {
            let e = Some("read failed".to_string());
            (Outcome::Fail, false, Vec::new(), e)
        } else if roll < 12 {
            let reads = (0..KEYS)
                .filter_map(|k| {
                    let v = self.state(k, snapshot)?;
                    Some((self.keys[k].clone(), self.value(Some(v))))
                })
                .collect();
            (Outcome::Ok, true, reads, None)
        } else {
            let n = self.rng.range(1, 4);
            let reads = (0..n)
                .map(|_| {
                    let k = self.rng.range(0, KEYS as u64) as usize;
                    (self.keys[k].clone(), self.value(self.state(k, snapshot)))
                })
                .collect();
            (Outcome::Ok, false, reads, None)
        };
        let think = self.rng.range(1000, 3000);
        let cl = &mut self.clients[c];
        self.out.push_back(Event::Read {
            client: cl.name.clone(),
            op: cl.op,
            t_us: t,
            outcome,
            snapshot_txn: Some(snapshot),
            scan,
            reads,
            error,
            range: None,
        });
        cl.phase = Phase::Idle;
        cl.next_t = t + think;
    }
}
