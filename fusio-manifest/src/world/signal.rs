//! [`Signal`]: a value tasks can wait on, woken in a fixed order.
//!
//! tokio's `watch` channel parks waiters on one of several notify shards picked at random
//! (from the runtime's generator, which only `--cfg tokio_unstable` can seed), so the order in
//! which a change wakes them differs between two runs of one seed. A `Signal` keeps one waiter
//! list, woken in the order it was joined, so a simulated run replays exactly.

use parking_lot::Mutex;
use tokio::sync::Notify;

/// A shared value and the tasks waiting for it to change.
#[derive(Debug, Default)]
pub struct Signal<T> {
    value: Mutex<T>,
    changed: Notify,
}

impl<T: Copy> Signal<T> {
    /// A signal holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            value: Mutex::new(value),
            changed: Notify::new(),
        }
    }

    /// The value now.
    pub fn get(&self) -> T {
        *self.value.lock()
    }

    /// Sets the value and wakes every waiter; returns the value it replaced.
    pub fn set(&self, value: T) -> T {
        let old = std::mem::replace(&mut *self.value.lock(), value);
        self.changed.notify_waiters();
        old
    }

    /// Waits until the value satisfies `ready`, and returns that value.
    pub async fn wait_for(&self, ready: impl Fn(&T) -> bool) -> T {
        self.wait_map(|v| ready(v).then_some(*v)).await
    }

    /// Waits until `pick` returns something for the value, and returns that.
    pub async fn wait_map<U>(&self, pick: impl Fn(&T) -> Option<U>) -> U {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the value is read, so a `set` in between is not missed.
            notified.as_mut().enable();
            if let Some(picked) = pick(&self.get()) {
                return picked;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiters_wake_in_the_order_they_waited() {
        let signal = Arc::new(Signal::new(false));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (signal, order) = (signal.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                signal.wait_for(|v| *v).await;
                order.lock().push(i);
            }));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(order.lock().is_empty(), "nobody wakes before the change");
        assert!(!signal.set(true));
        for t in tasks {
            t.await.expect("no panic");
        }
        assert_eq!(*order.lock(), (0..8).collect::<Vec<_>>());
        assert!(
            signal.wait_for(|v| *v).await,
            "a ready value returns at once"
        );
    }
}
