//! Records which fusio-manifest the build uses, for the provenance of every run: its version as
//! Cargo.lock resolved it, and where it came from (crates.io, or a local checkout patched in by
//! `scripts/with-fusio-manifest`, with that checkout's git revision).

use std::path::Path;
use std::process::Command;

/// Set by `scripts/with-fusio-manifest`: the directory of the fusio-manifest crate it patches in.
const CHECKOUT_VAR: &str = "FUSIO_MANIFEST_CHECKOUT";

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let lock = Path::new(&manifest_dir).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    println!("cargo:rerun-if-env-changed={CHECKOUT_VAR}");
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let entry = text
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"fusio-manifest\"\n"));
    let version = entry
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let from_registry = entry.is_some_and(|p| p.contains("\nsource = \"registry+"));
    let checkout = std::env::var(CHECKOUT_VAR).ok().filter(|d| !d.is_empty());
    let source = match (from_registry, checkout) {
        (true, None) => format!("crates.io {version}"),
        (true, Some(dir)) => format!(
            "crates.io {version} (the checkout {dir} was not used: its version must match \
             Cargo.toml's requirement)"
        ),
        (false, Some(dir)) => {
            println!("cargo:rerun-if-changed={dir}");
            format!("path {dir} at {}", git_revision(&dir))
        }
        (false, None) => {
            "path (not crates.io; run through scripts/with-fusio-manifest to record which)".into()
        }
    };
    println!("cargo:rustc-env=FUSIO_MANIFEST_VERSION={version}");
    println!("cargo:rustc-env=FUSIO_MANIFEST_SOURCE={source}");
}

/// `git rev-parse HEAD` of `dir`, `-dirty` when it has changes; `no git revision` without git.
fn git_revision(dir: &str) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(rev) if git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()) => {
            format!("git {rev}-dirty")
        }
        Some(rev) => format!("git {rev}"),
        None => "no git revision".into(),
    }
}
