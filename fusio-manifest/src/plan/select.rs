//! Whether libtest's command line named an entry point, so that a step runs alone only when it
//! was asked for by its full name and a partial filter never passes having run nothing.

/// How the command line selects one entry point that libtest is running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// A filter is the entry point's full name: run it.
    Named,
    /// No filter at all (the plain `cargo test -- --ignored`): the plan runs every step.
    Unnamed,
    /// A filter matched the name only in part (`test_chaos` for `test_chaos_sweep`).
    Partial(String),
}

/// libtest options that take a value, which is not a filter.
const VALUED_OPTIONS: &[&str] = &[
    "--skip",
    "--test-threads",
    "--color",
    "--format",
    "--logfile",
    "--shuffle-seed",
    "-Z",
];

/// How `args` (the process's arguments, program first) select entry point `name`.
pub fn selection(name: &str, args: impl IntoIterator<Item = String>) -> Selection {
    let mut filters = Vec::new();
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        if VALUED_OPTIONS.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    if filters.iter().any(|f| f == name) {
        return Selection::Named;
    }
    match filters.iter().find(|f| name.contains(f.as_str())) {
        Some(partial) => Selection::Partial(partial.clone()),
        None if filters.is_empty() => Selection::Unnamed,
        None => Selection::Partial(filters[0].clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        std::iter::once("performance_test-0123")
            .chain(list.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn the_full_name_selects_a_step_wherever_it_stands() {
        let name = "test_chaos_sweep";
        for line in [
            &["test_chaos_sweep", "--ignored", "--nocapture"][..],
            &["--ignored", "test_chaos_sweep"],
            &["--exact", "test_chaos_sweep", "--ignored"],
        ] {
            assert_eq!(selection(name, args(line)), Selection::Named, "{line:?}");
        }
    }

    #[test]
    fn no_filter_leaves_the_step_to_the_plan() {
        let line = args(&["--ignored", "--nocapture", "--test-threads", "1"]);
        assert_eq!(selection("test_chaos_sweep", line), Selection::Unnamed);
    }

    #[test]
    fn a_partial_filter_is_not_a_name() {
        let line = args(&["test_chaos", "--ignored"]);
        assert_eq!(
            selection("test_chaos_sweep", line),
            Selection::Partial("test_chaos".into())
        );
    }

    #[test]
    fn an_option_value_is_not_a_filter() {
        let skip = args(&["--skip", "test_chaos_sweep", "--ignored"]);
        assert_eq!(selection("test_chaos_sweep", skip), Selection::Unnamed);
        let threads = args(&["--test-threads", "1", "test_plan"]);
        assert_eq!(
            selection("test_baseline", threads),
            Selection::Partial("test_plan".into())
        );
    }
}
