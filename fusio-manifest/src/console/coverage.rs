//! The coverage sweep's report: per scenario, whether its run showed the actor it names.

use super::sweep::judged;
use crate::chaos::CoverageScenario;
use crate::outcome::ScenarioOutcome;
use crate::verdicts::coverage_shown;

/// Label printed for a scenario whose run did not show what it names.
pub const NOT_COVERED: &str = "NOT COVERED";

/// Prints, per scenario, what its run showed of the actor it names; returns one problem line
/// per scenario that finished valid but did not show it (a crashed or `INVALID` run is
/// reported by [`crate::outcome::problems`] instead). `outcomes` and `scenarios` are in the
/// same order.
pub fn print_coverage(outcomes: &[ScenarioOutcome], scenarios: &[CoverageScenario]) -> Vec<String> {
    println!("\n=== Coverage: what each scenario's run showed of the actor it names ===");
    let mut gaps = Vec::new();
    for (o, c) in outcomes.iter().zip(scenarios) {
        let Some(r) = judged(o) else { continue };
        match coverage_shown(c.evidence, &r.actor_row(), r.faults.injected()) {
            Ok(what) => println!("{:<26} covered: {what}", o.label),
            Err(why) => {
                println!("{:<26} ⚠️ {NOT_COVERED}: {why}", o.label);
                gaps.push(format!("{}: {NOT_COVERED}: {why}", o.label));
            }
        }
        let settings = c.scenario.settings_line();
        if !settings.is_empty() {
            println!("{:<26}   alone: {settings}", "");
        }
    }
    gaps
}
