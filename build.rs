//! Records the source revision the binary is built from, for `meridian --version` and the
//! `meridian_build_info` metric: `MERIDIAN_REVISION` when the packager sets it, else the git
//! commit of the checkout, else "unknown" (a source tarball without git builds all the same).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MERIDIAN_REVISION");
    let revision = std::env::var("MERIDIAN_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(git)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=MERIDIAN_REVISION={revision}");
}

/// The checked-out commit, short; `None` without git or outside a repository.
fn git() -> Option<String> {
    let git_dir = Path::new(".git");
    if git_dir.is_dir() {
        // Rebuilt when a commit moves HEAD or the branch it names.
        println!("cargo:rerun-if-changed=.git/HEAD");
        println!("cargo:rerun-if-changed=.git/packed-refs");
        if let Some(reference) = std::fs::read_to_string(git_dir.join("HEAD"))
            .ok()
            .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_string()))
        {
            println!("cargo:rerun-if-changed=.git/{reference}");
        }
    }
    let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}
