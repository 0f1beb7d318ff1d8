//! Dependency cycles between transactions, as Adya's isolation levels and Elle name them.
//!
//! The nodes are the committed write attempts that can be placed (single-key writes and
//! multi-key transactions) and the read operations with a snapshot. The edges:
//! - `ww` (write-write): consecutive versions of a key, by txn id (a delete is a version),
//!   and, as Elle infers for registers, from a transaction that read a key and then wrote it,
//!   to the writer of the version it read (that version came right before its own);
//! - `wr` (write-read): a value (or a delete's absence) was read by another transaction;
//! - `rw` (anti-dependency): a transaction read a version of a key that another one overwrote
//!   next. A read of no value is taken as a read of the latest absent state at or before the
//!   reader's snapshot (the key's initial state, or the one a delete left), the reading that
//!   makes the fewest cycles.
//!
//! fusio-manifest claims one chain: a commit at txn `T` saw the state after `T - 1`, and a
//! read at snapshot `s` the state after `s`. So every edge of a serializable history goes
//! forward along the order "txn `T` at `2T`, a read at snapshot `s` at `2s + 1`", which is
//! then a topological order: no cycle. The edges are first only scanned for one that does not
//! go forward; only then is the graph built and searched (strongly connected components,
//! Tarjan's algorithm). An edge that does not go forward is always also an anomaly of the
//! checks that run before this one: a stale or future read (the `wr` and `rw` edges of a
//! read, the inferred `ww` of a writer), a lost write or a fork (a writer's read of its key),
//! two commits at one txn (`ww`). So a history where those found nothing has no cycle, and
//! not even the scan runs: with it, the checker benchmark's 1M clean operations took 0.91M
//! ops/s in memory instead of 1.30M (same loaded machine). Each component is then searched
//! for one cycle of each class, as Elle does, and each class found is reported once for it:
//! - [`AnomalyClass::G0`]: a cycle of `ww` edges only (write cycle);
//! - [`AnomalyClass::G1c`]: a cycle of `ww` and `wr` edges (circular information flow);
//! - [`AnomalyClass::GSingle`]: a cycle with exactly one `rw` edge (read skew, lost update);
//! - [`AnomalyClass::G2`]: a cycle with more than one `rw` edge (write skew).
//!
//! A search tries the edges of its kind (`ww` for G0, `wr` for G1c, `rw` for the others) as
//! the first edge of a cycle and looks for the shortest path back (breadth-first) over the
//! edges its class allows, until one closes a cycle of its class. The searches share a budget
//! per component; when they find nothing within it, the component is reported under the
//! class of a cycle found by one unrestricted search, which is then true of that cycle.

use std::collections::VecDeque;

use super::cite::MAX_OPS;
use super::intern::{FxHashMap, FxHashSet, ABSENT};
use super::model::{is_delete, writer_of, Ctx};
use super::report::Findings;
use super::AnomalyClass;

/// At most this many nodes are visited by the targeted searches of one component.
const SEARCH_BUDGET: usize = 1 << 20;

/// The kind of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dep {
    Ww,
    Wr,
    Rw,
}

impl Dep {
    fn name(self) -> &'static str {
        match self {
            Dep::Ww => "ww",
            Dep::Wr => "wr",
            Dep::Rw => "rw",
        }
    }
}

/// Which edges the path back of a cycle may take.
#[derive(Debug, Clone, Copy)]
enum Path {
    WwOnly,
    NoRw,
    Any,
}

impl Path {
    fn admits(self, dep: Dep) -> bool {
        match self {
            Path::WwOnly => dep == Dep::Ww,
            Path::NoRw => dep != Dep::Rw,
            Path::Any => true,
        }
    }
}

/// A dependency `from -> to` on `key`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    from: u32,
    to: u32,
    dep: Dep,
    key: u32,
}

/// Finds and reports the dependency cycles of the history (see the module docs).
pub(super) fn dependency_cycles(ctx: &Ctx, f: &mut Findings) {
    if !f.any() {
        return;
    }
    let mut backward = false;
    for_each_edge(ctx, |e| {
        backward |= position(ctx, e.from) >= position(ctx, e.to)
    });
    if !backward {
        return;
    }
    let mut edges = Vec::new();
    for_each_edge(ctx, |e| edges.push(e));
    let graph = Graph::new(ctx.writes.len() + ctx.reads.len(), edges);
    for component in graph.components() {
        for cycle in graph.cycles(&component) {
            report(ctx, f, &graph, &cycle);
        }
    }
}

/// What a node id stands for: the write attempts' value ids come first, then the read ops.
enum Node {
    /// A write attempt, by the id of the value it wrote.
    Write(u32),
    /// A read op, by its index in the checker's reads.
    Read(usize),
}

impl Node {
    /// The node id of read op `r`.
    fn read_id(ctx: &Ctx, r: usize) -> u32 {
        (ctx.writes.len() + r) as u32
    }

    /// Decodes node id `n`.
    fn of(ctx: &Ctx, n: u32) -> Self {
        match n.checked_sub(ctx.writes.len() as u32) {
            Some(r) => Node::Read(r as usize),
            None => Node::Write(n),
        }
    }
}

/// Where node `n` stands in the order the chain claims (see the module docs).
fn position(ctx: &Ctx, n: u32) -> u64 {
    match Node::of(ctx, n) {
        Node::Write(v) => ctx.info[v as usize]
            .placed
            .map_or(u64::MAX, commit_position),
        Node::Read(r) => ctx.reads[r].snapshot.map_or(u64::MAX, read_position),
    }
}

/// The position of a commit at txn `t`.
fn commit_position(t: u64) -> u64 {
    t.saturating_mul(2)
}

/// The position of a read at snapshot `s`.
fn read_position(s: u64) -> u64 {
    s.saturating_mul(2).saturating_add(1)
}

/// Calls `visit` with every dependency edge between two different nodes.
fn for_each_edge(ctx: &Ctx, mut visit: impl FnMut(Edge)) {
    for key in 0..ctx.keys_len() {
        for pair in ctx.chains.of(key).windows(2) {
            let (from, to) = (writer_of(pair[0].1), writer_of(pair[1].1));
            if from != to {
                visit(Edge {
                    from,
                    to,
                    dep: Dep::Ww,
                    key,
                });
            }
        }
    }
    for (v, (a, i)) in ctx.writes.iter().zip(&ctx.info).enumerate() {
        let Some(t) = i.placed else { continue };
        for (key, read) in ctx.txns.reads_of(a) {
            let wrote = ctx.txns.writes_of(a).any(|(k, _)| k == key);
            read_edges(
                ctx,
                (v as u32, commit_position(t), wrote),
                key,
                read,
                &mut visit,
            );
        }
    }
    for (r, op) in ctx.reads.iter().enumerate() {
        let Some(s) = op.snapshot else { continue };
        for &(key, read) in &ctx.obs[op.obs.clone()] {
            read_edges(
                ctx,
                (Node::read_id(ctx, r), read_position(s), false),
                key,
                read,
                &mut visit,
            );
        }
    }
}

/// The edges of node `reader` (at `position`; it also `wrote` the key, or not) having read
/// `key` = `read`: `wr` from the version's writer, `rw` to the next version's, and for a
/// writer of the key `ww` from the version's writer.
fn read_edges(
    ctx: &Ctx,
    (reader, position, wrote): (u32, u64, bool),
    key: u32,
    read: u32,
    visit: &mut impl FnMut(Edge),
) {
    let chain = ctx.chains.of(key);
    // The index of the version read in the chain (`None`: the initial state).
    let version = if read == ABSENT {
        let before = chain.partition_point(|e| commit_position(e.0) < position);
        chain[..before].iter().rposition(|e| is_delete(e.1))
    } else {
        let Some(t) = ctx.info[read as usize].placed else {
            return;
        };
        match chain.binary_search(&(t, read)) {
            Ok(i) => Some(i),
            // Not a committed value of this key: judged elsewhere.
            Err(_) => return,
        }
    };
    let mut edge = |from: u32, to: u32, dep| {
        if from != to {
            visit(Edge { from, to, dep, key });
        }
    };
    if let Some(i) = version {
        let writer = writer_of(chain[i].1);
        edge(writer, reader, Dep::Wr);
        if wrote {
            edge(writer, reader, Dep::Ww);
        }
    }
    if let Some(next) = chain.get(version.map_or(0, |i| i + 1)) {
        edge(reader, writer_of(next.1), Dep::Rw);
    }
}

/// The dependency graph, as adjacency lists of edge indexes.
struct Graph {
    edges: Vec<Edge>,
    /// `out[start[n]..start[n + 1]]` are the indexes of node `n`'s outgoing edges.
    start: Vec<usize>,
    out: Vec<u32>,
}

/// A cycle: its edges (indexes), in order, and its class.
struct Cycle {
    class: AnomalyClass,
    edges: Vec<u32>,
}

impl Graph {
    fn new(nodes: usize, edges: Vec<Edge>) -> Graph {
        let mut start = vec![0usize; nodes + 2];
        for e in &edges {
            start[e.from as usize + 2] += 1;
        }
        for n in 2..start.len() {
            start[n] += start[n - 1];
        }
        let mut out = vec![0u32; edges.len()];
        for (i, e) in edges.iter().enumerate() {
            let slot = &mut start[e.from as usize + 1];
            out[*slot] = i as u32;
            *slot += 1;
        }
        start.pop();
        Graph { edges, start, out }
    }

    /// The strongly connected components with more than one node (Tarjan's algorithm,
    /// iterative), each as a list of nodes.
    fn components(&self) -> Vec<Vec<u32>> {
        const NONE: u32 = u32::MAX;
        let nodes = self.start.len() - 1;
        let (mut index, mut low) = (vec![NONE; nodes], vec![0u32; nodes]);
        let mut on_stack = vec![false; nodes];
        let (mut stack, mut found, mut next) = (Vec::new(), Vec::new(), 0u32);
        // Depth-first frames: (node, position in its outgoing edges).
        let mut frames: Vec<(u32, usize)> = Vec::new();
        for root in 0..nodes as u32 {
            if index[root as usize] != NONE
                || self.start[root as usize] == self.start[root as usize + 1]
            {
                continue;
            }
            frames.push((root, self.start[root as usize]));
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&mut (n, ref mut at)) = frames.last_mut() {
                if *at < self.start[n as usize + 1] {
                    let to = self.edges[self.out[*at] as usize].to;
                    *at += 1;
                    let t = to as usize;
                    if index[t] == NONE {
                        index[t] = next;
                        low[t] = next;
                        next += 1;
                        stack.push(to);
                        on_stack[t] = true;
                        frames.push((to, self.start[t]));
                    } else if on_stack[t] {
                        low[n as usize] = low[n as usize].min(index[t]);
                    }
                    continue;
                }
                frames.pop();
                if let Some(&(parent, _)) = frames.last() {
                    low[parent as usize] = low[parent as usize].min(low[n as usize]);
                }
                if low[n as usize] == index[n as usize] {
                    let mut component = Vec::new();
                    while let Some(m) = stack.pop() {
                        on_stack[m as usize] = false;
                        component.push(m);
                        if m == n {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        found.push(component);
                    }
                }
            }
        }
        found
    }

    /// One cycle of each class the component holds, as far as the searches find them within
    /// the budget (see the module docs); if they find none, one cycle of any kind.
    fn cycles(&self, component: &[u32]) -> Vec<Cycle> {
        let member: FxHashSet<u32> = component.iter().copied().collect();
        let inside: Vec<u32> = component
            .iter()
            .flat_map(|&n| self.out_range(n))
            .filter(|&i| member.contains(&self.edges[i as usize].to))
            .collect();
        let mut budget = SEARCH_BUDGET;
        let searches = [
            (Dep::Ww, Path::WwOnly, AnomalyClass::G0),
            (Dep::Wr, Path::NoRw, AnomalyClass::G1c),
            (Dep::Rw, Path::NoRw, AnomalyClass::GSingle),
            (Dep::Rw, Path::Any, AnomalyClass::G2),
        ];
        let mut found = Vec::new();
        for (first, path, class) in searches {
            let starts = inside
                .iter()
                .filter(|&&i| self.edges[i as usize].dep == first);
            for &i in starts {
                if budget == 0 {
                    break;
                }
                let Some(edges) = self.close(&member, i, path, &mut budget) else {
                    continue;
                };
                if self.class_of(&edges) == class {
                    found.push(Cycle { class, edges });
                    break;
                }
            }
        }
        if let (true, Some(&first)) = (found.is_empty(), inside.first()) {
            // Any edge inside a component closes a cycle with some path back.
            let mut unlimited = usize::MAX;
            if let Some(edges) = self.close(&member, first, Path::Any, &mut unlimited) {
                let class = self.class_of(&edges);
                found.push(Cycle { class, edges });
            }
        }
        found
    }

    /// The class of a cycle, from its edges: G0 (`ww` only), G1c (`ww` and `wr`), G-single
    /// (one `rw`) or G2 (more).
    fn class_of(&self, edges: &[u32]) -> AnomalyClass {
        let dep = |i: &u32| self.edges[*i as usize].dep;
        let rw = edges.iter().filter(|i| dep(i) == Dep::Rw).count();
        let wr = edges.iter().any(|i| dep(i) == Dep::Wr);
        match (rw, wr) {
            (0, false) => AnomalyClass::G0,
            (0, true) => AnomalyClass::G1c,
            (1, _) => AnomalyClass::GSingle,
            _ => AnomalyClass::G2,
        }
    }

    fn out_range(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        let n = n as usize;
        self.out[self.start[n]..self.start[n + 1]].iter().copied()
    }

    /// A cycle through edge `first` (`a -> b`): `first`, then the shortest path from `b` back
    /// to `a` over edges of `allowed` kinds between members, if one is found within `budget`
    /// visited nodes (which it decreases).
    fn close(
        &self,
        member: &FxHashSet<u32>,
        first: u32,
        allowed: Path,
        budget: &mut usize,
    ) -> Option<Vec<u32>> {
        let e = self.edges[first as usize];
        // For each node reached: the edge it was reached by.
        let mut came_by = FxHashMap::default();
        came_by.insert(e.to, first);
        let mut queue = VecDeque::from([e.to]);
        while let Some(n) = queue.pop_front() {
            if n == e.from {
                let mut path = Vec::new();
                let mut at = n;
                while at != e.to {
                    let i = came_by[&at];
                    path.push(i);
                    at = self.edges[i as usize].from;
                }
                path.push(first);
                path.reverse();
                return Some(path);
            }
            *budget = budget.checked_sub(1)?;
            for i in self.out_range(n) {
                let next = self.edges[i as usize];
                if allowed.admits(next.dep)
                    && member.contains(&next.to)
                    && !came_by.contains_key(&next.to)
                {
                    came_by.insert(next.to, i);
                    queue.push_back(next.to);
                }
            }
        }
        None
    }
}

/// Reports one cycle under its class.
fn report(ctx: &Ctx, f: &mut Findings, graph: &Graph, cycle: &Cycle) {
    f.add(cycle.class, || {
        // A node and where the chain claims it stands.
        let name = |n: u32| match Node::of(ctx, n) {
            Node::Read(r) => {
                let snapshot = ctx.reads[r].snapshot.unwrap_or_default();
                format!("{} (snapshot {snapshot})", ctx.read_name(r))
            }
            Node::Write(v) => {
                let txn = ctx.info[v as usize].placed.unwrap_or_default();
                format!("{} (txn {txn})", ctx.write_name(v))
            }
        };
        let mut text = format!(
            "a cycle of {} dependencies: {}",
            cycle.edges.len(),
            name(graph.edges[cycle.edges[0] as usize].from)
        );
        for &i in cycle.edges.iter().take(MAX_OPS) {
            let e = graph.edges[i as usize];
            text.push_str(&format!(
                " -{} {}-> {}",
                e.dep.name(),
                ctx.key(e.key),
                name(e.to)
            ));
        }
        if cycle.edges.len() > MAX_OPS {
            text.push_str(&format!(" ... ({} more)", cycle.edges.len() - MAX_OPS));
        }
        let ops = cycle
            .edges
            .iter()
            .take(MAX_OPS)
            .map(|&i| match Node::of(ctx, graph.edges[i as usize].from) {
                Node::Read(r) => ctx.read_ref(r),
                Node::Write(v) => ctx.write_ref(v),
            })
            .collect();
        (ops, text)
    });
}
