//! Fault injection: the storage wrapper every manifest runs on, the network conditions it
//! applies per scenario, CPU burners, client crashes, the plan's scenarios and the controller
//! that runs them.

pub mod controller;
pub mod coverage;
pub mod cpu;
pub mod crash;
pub mod fault_log;
pub mod fault_points;
pub mod faults;
pub mod network;
pub mod recovery;
pub mod scenario;
pub mod storage;

pub use controller::{ChaosController, ChaosEvent, EventLog};
pub use coverage::{create_coverage_scenarios, CoverageScenario, Evidence};
pub use cpu::{CpuBurners, CpuLoad};
pub use crash::{CrashCounts, CrashPoint, CrashReport, Process};
pub use fault_log::InjectedFault;
pub use fault_points::{
    parse_fault_points, FaultAction, FaultPoint, FaultPointError, FaultPointStatus, Hits,
};
pub use faults::{FaultCounts, FaultKind, FaultSpec, InjectedError};
pub use network::{BlockMode, LatencySpec, NetworkChaos, S3LatencyProfile};
pub use scenario::{create_chaos_scenarios, create_fault_scenarios, BlockPlan, ChaosScenario};
pub use storage::{ChaosFile, ChaosFs, OpCount, Pass, S3OpSink, StorageLayer};

/// The S3 operations the storage wrapper tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum S3OpKind {
    /// GET object.
    Get = 0,
    /// Unconditional PUT object.
    Put = 1,
    /// PUT object with `If-Match` or `If-None-Match`.
    CondPut = 2,
    /// HEAD object.
    Head = 3,
    /// ListObjectsV2 (all pages of one listing).
    List = 4,
    /// DELETE object.
    Delete = 5,
}

impl S3OpKind {
    /// Every kind, in report order.
    pub const ALL: [S3OpKind; 6] = [
        S3OpKind::Get,
        S3OpKind::Put,
        S3OpKind::CondPut,
        S3OpKind::Head,
        S3OpKind::List,
        S3OpKind::Delete,
    ];

    /// Upper-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            S3OpKind::Get => "GET",
            S3OpKind::Put => "PUT",
            S3OpKind::CondPut => "CondPUT",
            S3OpKind::Head => "HEAD",
            S3OpKind::List => "LIST",
            S3OpKind::Delete => "DELETE",
        }
    }
}
