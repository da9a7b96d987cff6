//! WEKA passwords generated with a cryptographically secure generator (the reference seeded
//! a non-cryptographic PRNG with the time).

use rand::RngExt;
use rand::seq::SliceRandom;

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
/// Length of generated passwords.
pub const PASSWORD_LEN: usize = 16;

/// A 16-character password with at least one lowercase letter, one uppercase letter and one
/// digit, the rest drawn uniformly from all three classes, shuffled. `rng` must be a CSPRNG
/// in production (`rand::rng()`, seeded from the operating system).
pub fn generate_password<R: rand::CryptoRng + ?Sized>(rng: &mut R) -> String {
    let all: Vec<u8> = [LOWER, UPPER, DIGITS].concat();
    let mut chars: Vec<u8> = [LOWER, UPPER, DIGITS]
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    while chars.len() < PASSWORD_LEN {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(rng);
    chars.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn passwords_have_every_class_and_do_not_repeat() {
        let mut rng = rand::rng();
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let p = generate_password(&mut rng);
            assert_eq!(p.len(), PASSWORD_LEN);
            assert!(p.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(p.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(p.bytes().any(|b| b.is_ascii_digit()));
            assert!(seen.insert(p), "a generated password repeated");
        }
    }
}
