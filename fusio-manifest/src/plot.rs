//! The charts: runs `plot_results.py` (workspace root) over a result CSV to draw its PNG.

use std::path::{Path, PathBuf};

/// Runs `python3 plot_results.py CSV ARGS...` from the workspace root. Returns the PNG path when
/// the script succeeded; otherwise prints why and the command to run by hand.
pub fn plot(csv: &Path, args: &[&str]) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let script = root.join("plot_results.py");
    let mut command = std::process::Command::new("python3");
    command.arg(&script).arg(csv).args(args).current_dir(&root);
    let manual = format!(
        "python3 {} {} {}",
        script.display(),
        csv.display(),
        args.join(" ")
    );
    match command.output() {
        Ok(out) if out.status.success() => {
            print!("{}", String::from_utf8_lossy(&out.stdout));
            Some(csv.with_extension("png"))
        }
        Ok(out) => {
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
            println!("⚠️ plotting failed; after fixing the above run: {manual}");
            None
        }
        Err(e) => {
            println!("⚠️ cannot run python3 ({e}); to plot, run: {manual}");
            None
        }
    }
}
