//! Reading the CLI's argv: flags, positional ids, numbers and sizes.

use super::CliError;
use crate::world::{SimError, parse_host_id_str};

/// Value of `--flag V` or `--flag=V`.
pub(super) fn flag<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == name {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix(name).and_then(|r| r.strip_prefix('='))
        }
    })
}

pub(super) fn has(args: &[&str], name: &str) -> bool {
    args.contains(&name)
}

pub(super) fn json_out(args: &[&str]) -> bool {
    has(args, "-J") || has(args, "--json")
}

pub(super) fn csv(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn invalid(message: String) -> CliError {
    CliError::Sim(SimError::Invalid(message))
}

pub(super) fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, CliError> {
    s.parse::<T>()
        .map_err(|_| invalid(format!("{what} must be a number, got {s:?}")))
}

/// Parses `22GB`, `1TiB`, `123B`, `1024`.
pub fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "PB" => 1_000_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        "PIB" => 1 << 50,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub(super) fn positional(args: &[&str]) -> Vec<String> {
    args.iter()
        .filter(|a| !a.starts_with('-'))
        .map(|a| (*a).to_owned())
        .collect()
}

pub(super) fn host_ids(args: &[&str]) -> Result<Vec<i64>, CliError> {
    positional(args)
        .iter()
        .map(|a| parse_host_id_str(a).map_err(CliError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("22GB"), Some(22_000_000_000));
        assert_eq!(parse_size("123B"), Some(123));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("5XB"), None);
    }

    #[test]
    fn flags_take_both_spellings() {
        let args = ["--cluster-name=a", "--data-drives", "3"];
        assert_eq!(flag(&args, "--cluster-name"), Some("a"));
        assert_eq!(flag(&args, "--data-drives"), Some("3"));
        assert_eq!(flag(&args, "--parity-drives"), None);
    }
}
