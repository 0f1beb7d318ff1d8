//! Everything printed to the console: one run ([`run`]), whole sweeps ([`sweep`]) and the
//! coverage sweep's evidence ([`coverage`]). The driver and the exporters call these and print
//! nothing themselves.

pub mod coverage;
pub mod run;
pub mod sweep;

pub use coverage::print_coverage;
pub use run::{
    print_exported, print_final_state_error, print_host, print_phase, print_progress, print_run,
    print_run_header, print_sim_speed, print_verifications, print_warning, quiet_runs,
};
pub use sweep::{
    print_best_and_worst, print_liveness, print_retry_verdicts, print_success_criteria,
    print_summary_table,
};
