//! Network blocks: partitions that hold (or refuse) every request and answer while they last.

use crate::world::Signal;
use parking_lot::RwLock;

/// What happens to operations during a network block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockMode {
    /// Nothing makes progress: requests wait, answers are held until the block ends.
    Hold,
    /// New requests fail at once with a connection error; answers arriving during the block
    /// are lost (the request may have been applied).
    Refuse,
}

/// Whether a block is in force, and what it does.
pub struct Blocks {
    blocked: Signal<bool>,
    mode: RwLock<BlockMode>,
}

impl Default for Blocks {
    fn default() -> Self {
        Self {
            blocked: Signal::new(false),
            mode: RwLock::new(BlockMode::Hold),
        }
    }
}

impl Blocks {
    /// Starts or ends a network block.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.set(blocked);
    }

    /// Sets what blocks do (default [`BlockMode::Hold`]).
    pub fn set_block_mode(&self, mode: BlockMode) {
        *self.mode.write() = mode;
    }

    /// What blocks do.
    pub fn block_mode(&self) -> BlockMode {
        *self.mode.read()
    }

    /// Whether a block is in force now.
    pub fn is_blocked(&self) -> bool {
        self.blocked.get()
    }

    /// Waits while a block is in force (requests do not leave, answers are held).
    pub async fn wait_unblocked(&self) {
        self.blocked.wait_for(|blocked| !*blocked).await;
    }
}
