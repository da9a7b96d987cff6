//! The shape of the house, checked on the source text: layers of `shared/src` import only
//! layers below them, no handler imports another handler, the module graph has no cycle,
//! every environment variable name is defined once (in `config::names`), and no source file
//! grows past 800 lines unless a `//! Length:` line says why.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the ground up: a module may import modules of a strictly lower rank, and
/// others of its own top-level module. `testing` (fakes, fixtures) sits above everything and
/// is imported by test code only; `runtime` (process start-up) wires adapters to handlers.
const RANKS: [(&str, u8); 14] = [
    ("error", 0),
    ("weka", 1),
    ("wire", 2),
    ("domain", 3),
    ("config", 4),
    ("ports", 5),
    ("adapters", 6),
    ("lambda", 6),
    ("services", 7),
    ("handlers", 8),
    ("runtime", 9),
    ("testing", 9),
    // The crate root declares the modules; it imports nothing.
    ("lib", 10),
    ("mod", 10),
];

/// Longest source file, in lines, unless its `//!` says why it is longer.
const MAX_LINES: usize = 800;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path segments of a source file (`handlers/fetch.rs` -> `[handlers, fetch]`).
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") && parts.len() > 1 {
        parts.pop();
    }
    parts
}

/// The graph node of a module path: the top-level module and, when it is a directory, the
/// child module (`domain::scale_down`, `handlers::fetch`); a file module is one node.
fn node_of(path: &[String]) -> String {
    let top = &path[0];
    let dir = src().join(top);
    match path.get(1) {
        Some(child) if dir.join(format!("{child}.rs")).exists() || dir.join(child).is_dir() => {
            format!("{top}::{child}")
        }
        _ => top.clone(),
    }
}

/// The code of a file without its test module(s) and comments.
fn production_code(text: &str) -> String {
    let cut = ["#[cfg(test)]", "#[cfg(all(test"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module node `code` names through `crate::` or `super::` paths, resolved from `module`.
fn imports(module: &[String], code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for (start, _) in code.match_indices("crate::") {
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let path: Vec<String> = code[start + "crate::".len()..]
            .split("::")
            .take(2)
            .map(|s| {
                s.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .take_while(|s: &String| !s.is_empty())
            .collect();
        if !path.is_empty() {
            found.insert(node_of(&path));
        }
    }
    for (start, _) in code.match_indices("super::") {
        if start > 0 && bytes[start - 1] == b':' {
            continue;
        }
        let mut path: Vec<String> = module[..module.len().saturating_sub(1)].to_vec();
        let rest: String = code[start + "super::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !rest.is_empty() && rest != "super" {
            path.push(rest);
        }
        if !path.is_empty() {
            found.insert(node_of(&path));
        }
    }
    found
}

fn rank(node: &str) -> u8 {
    let top = node.split("::").next().unwrap();
    RANKS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, rank)| *rank)
        .unwrap_or_else(|| panic!("module {top} has no layer in RANKS: add it"))
}

/// The module graph: node -> the nodes it imports (itself excluded).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        let node = node_of(&module);
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue; // a `#[cfg(test)] mod tests;` file: test code, like an inline test module
        }
        let code = production_code(&std::fs::read_to_string(&file).unwrap());
        let entry = graph.entry(node.clone()).or_default();
        entry.extend(imports(&module, &code).into_iter().filter(|n| *n != node));
    }
    graph
}

#[test]
fn layers_import_only_layers_below_and_handlers_no_handler() {
    let mut violations = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            let same_top = from.split("::").next() == to.split("::").next();
            let allowed = if same_top {
                // Inside one layer, modules may share; handlers are one Lambda each.
                !from.starts_with("handlers::") || to == "handlers"
            } else {
                rank(&to) < rank(&from)
            };
            if !allowed {
                violations.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layering (error < weka < wire < domain < config < ports < \
         adapters/lambda < services < handlers < testing):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = graph();
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_an_upward_import_and_a_handler_importing_a_handler() {
    let module = |s: &str| s.split('/').map(str::to_owned).collect::<Vec<_>>();
    let found = imports(
        &module("ports/weka"),
        "use crate::lambda::error_chain;\nfn f() { crate::weka::model::HostState::Inactive; }",
    );
    assert_eq!(
        found,
        BTreeSet::from(["lambda".to_owned(), "weka::model".to_owned()])
    );
    assert!(rank("lambda") > rank("ports"));
    let found = imports(&module("handlers/report"), "use crate::handlers::fetch::X;");
    assert_eq!(found, BTreeSet::from(["handlers::fetch".to_owned()]));
    let found = imports(&module("domain/scale_down/view"), "use super::ScaleState;");
    assert_eq!(found, BTreeSet::from(["domain::scale_down".to_owned()]));
}

#[test]
fn every_environment_name_is_defined_once_in_config_names() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut defined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut literal_reads = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(src()).unwrap().display().to_string();
        let code = production_code(&std::fs::read_to_string(file).unwrap());
        for line in code.lines() {
            let line = line.trim();
            if line.starts_with("pub const ")
                && line.contains("_ENV: &str = \"")
                && let Some(value) = line.split('"').nth(1)
            {
                defined
                    .entry(value.to_owned())
                    .or_default()
                    .push(rel.clone());
            }
            for read in [
                ".required(\"",
                ".optional(\"",
                ".parsed(\"",
                ".parsed_or(\"",
                ".flag_or(\"",
                ".duration_or(\"",
            ] {
                if line.contains(read) {
                    literal_reads.push(format!("{rel}: {line}"));
                }
            }
        }
    }
    assert!(defined.len() > 50, "found only {} names", defined.len());
    let misplaced: Vec<_> = defined
        .iter()
        .filter(|(_, places)| places.len() != 1 || places[0] != "config/names.rs")
        .map(|(name, places)| format!("{name}: {places:?}"))
        .collect();
    assert!(
        misplaced.is_empty(),
        "env names defined elsewhere or twice: {misplaced:#?}"
    );
    assert!(
        literal_reads.is_empty(),
        "env names read by literal: {literal_reads:#?}"
    );
}

#[test]
fn no_source_file_is_longer_than_its_doc_explains() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    rust_files(&src().join("../tests"), &mut files);
    rust_files(&src().join("../../tests/weka-sim/src"), &mut files);
    rust_files(&src().join("../../tests/weka-sim/tests"), &mut files);
    let long: Vec<_> = files
        .iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            let lines = text.lines().count();
            let explained = text
                .lines()
                .take_while(|l| l.starts_with("//!") || l.is_empty())
                .any(|l| l.starts_with("//! Length:"));
            (lines > MAX_LINES && !explained).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines whose //! does not say why: {long:#?}"
    );
}

/// Only operators pause (README, "Trust model"): no handler, service or function binary
/// writes the pause item; they only read it (`paused()`).
#[test]
fn no_function_writes_the_pause() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["handlers", "services", "runtime.rs", "lambda.rs"] {
        let path = src().join(dir);
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
    }
    let functions = root.join("../functions");
    rust_files(&functions, &mut files);
    assert!(files.len() > 20, "{files:?}");
    let writers: Vec<String> = files
        .iter()
        .filter(|f| {
            let code = std::fs::read_to_string(f).unwrap();
            code.contains(".pause(") || code.contains(".resume(")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(writers.is_empty(), "the pause is written by: {writers:?}");
}
