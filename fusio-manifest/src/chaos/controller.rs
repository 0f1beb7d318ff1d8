//! [`ChaosController`]: starts and stops one scenario on its storage layer, and keeps a
//! timestamped event log.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;

use super::cpu::CpuBurners;
use super::scenario::ChaosScenario;
use super::storage::StorageLayer;
use crate::world::clock;

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChaosEvent {
    /// Milliseconds since the run started.
    pub t_ms: u64,
    /// `chaos_start`, `chaos_stop`, `latency_on`, `cpu_start`, `cpu_stop`, `block_start`,
    /// `block_end`, `recovered`.
    pub event: String,
    /// Free text: parameters, block number, recovery time.
    pub detail: String,
}

/// A shared, timestamped event log.
#[derive(Clone)]
pub struct EventLog {
    start: Instant,
    events: Arc<Mutex<Vec<ChaosEvent>>>,
}

impl EventLog {
    /// A log whose timestamps count from `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            events: Arc::default(),
        }
    }

    /// Appends an event stamped now.
    pub fn push(&self, event: &str, detail: impl Into<String>) {
        let t_ms = clock::since(self.start).as_millis() as u64;
        self.push_at(t_ms, event, detail);
    }

    /// Appends an event with an explicit timestamp.
    pub fn push_at(&self, t_ms: u64, event: &str, detail: impl Into<String>) {
        self.events.lock().push(ChaosEvent {
            t_ms,
            event: event.into(),
            detail: detail.into(),
        });
    }

    /// The events so far, in time order.
    pub fn events(&self) -> Vec<ChaosEvent> {
        let mut v = self.events.lock().clone();
        v.sort_by_key(|e| e.t_ms);
        v
    }
}

/// Drives one scenario's chaos over one run.
pub struct ChaosController {
    scenario: ChaosScenario,
    layer: Arc<StorageLayer>,
    log: EventLog,
    blocks: Option<JoinHandle<()>>,
    /// Set by `stop`; the block task checks it under the same lock before starting a block,
    /// so a block can never begin after `stop` returned.
    stopped: Arc<Mutex<bool>>,
    cpu: Option<CpuBurners>,
}

impl ChaosController {
    /// A controller for `scenario` acting on `layer`; the log counts from `start`.
    pub fn new(scenario: ChaosScenario, layer: Arc<StorageLayer>, start: Instant) -> Self {
        Self {
            scenario,
            layer,
            log: EventLog::new(start),
            blocks: None,
            stopped: Arc::default(),
            cpu: None,
        }
    }

    /// The event log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Turns the scenario's chaos on. Blocks follow a seeded schedule over `duration`.
    pub fn start(&mut self, duration: Duration, seed: u64) {
        let s = &self.scenario;
        self.log.push("chaos_start", s.label.clone());
        if let Some(lat) = s.latency {
            self.layer.network().latency().set_latency(Some(lat));
            self.log.push(
                "latency_on",
                format!(
                    "{} ms ± {} ms",
                    lat.delay.as_millis(),
                    lat.jitter.as_millis()
                ),
            );
        }
        if !s.faults.is_empty() {
            self.layer.network().faults().set_faults(s.faults.clone());
            self.log.push("faults_on", format!("{:?}", s.faults));
        }
        self.layer.network().blocks().set_block_mode(s.block_mode);
        if let Some(cpu) = s.cpu {
            self.cpu = Some(CpuBurners::start(cpu));
            self.log.push(
                "cpu_start",
                format!("{} threads at {}%", cpu.threads, cpu.percent),
            );
        }
        if let Some(plan) = s.blocks {
            let windows = plan.schedule(duration, seed);
            let layer = self.layer.clone();
            let log = self.log.clone();
            let start = self.log.start;
            let n = windows.len();
            let stopped = self.stopped.clone();
            self.blocks = Some(crate::selfcheck::spawn(async move {
                for (i, (from, to)) in windows.into_iter().enumerate() {
                    tokio::time::sleep_until((start + from).into()).await;
                    {
                        let stopped = stopped.lock();
                        if *stopped {
                            return;
                        }
                        layer.network().blocks().set_blocked(true);
                    }
                    let secs = (to - from).as_secs_f64();
                    log.push("block_start", format!("{}/{n} for {secs:.1}s", i + 1));
                    println!(
                        "🔴 Network blocking event {}/{n} - blocking for {}",
                        i + 1,
                        fmt_secs(secs)
                    );
                    tokio::time::sleep_until((start + to).into()).await;
                    // Stamp before unblocking: operations released by the unblock must never
                    // appear to complete inside the window.
                    let t_ms = clock::since(start).as_millis() as u64;
                    layer.network().blocks().set_blocked(false);
                    log.push_at(t_ms, "block_end", format!("{}/{n}", i + 1));
                    println!("🟢 Network blocking event {}/{n} - unblocked", i + 1);
                }
            }));
        }
    }

    /// Turns every kind of chaos off (a block in progress ends now) and returns the log.
    pub fn stop(&mut self) -> Vec<ChaosEvent> {
        if let Some(b) = self.blocks.take() {
            b.abort();
        }
        let net = self.layer.network();
        {
            let mut stopped = self.stopped.lock();
            *stopped = true;
            if net.blocks().is_blocked() {
                self.log.push("block_end", "ended by chaos_stop");
                net.blocks().set_blocked(false);
            }
        }
        net.latency().set_latency(None);
        net.faults().set_faults(Vec::new());
        if let Some(cpu) = self.cpu.take() {
            cpu.stop();
            self.log.push("cpu_stop", "");
        }
        self.log.push("chaos_stop", self.scenario.label.clone());
        self.log.events()
    }
}

impl Drop for ChaosController {
    fn drop(&mut self) {
        if let Some(b) = self.blocks.take() {
            b.abort();
        }
        self.layer.network().blocks().set_blocked(false);
    }
}

fn fmt_secs(secs: f64) -> String {
    if (secs - secs.round()).abs() < 1e-9 {
        format!("{secs:.0}s")
    } else {
        format!("{secs:.1}s")
    }
}
