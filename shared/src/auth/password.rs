//! Camunda's password format in `ACT_ID_USER.PWD_`: `{SHA-512}` + Base64(SHA-512(password +
//! salt)), the default; and the legacy `{SHA}` + Base64(SHA-1(password)), without salt, that
//! Camunda 7.6 and older wrote. An unknown `{ALGORITHM}` never matches.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha512};

/// A stored password and its salt, as Camunda writes them for a new user.
pub fn hash_new(password: &str) -> (String, String) {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = STANDARD.encode(salt);
    (sha512(password, &salt), salt)
}

fn sha512(password: &str, salt: &str) -> String {
    let digest = Sha512::digest(format!("{password}{salt}").as_bytes());
    format!("{{SHA-512}}{}", STANDARD.encode(digest))
}

/// Whether `password` matches the stored `pwd` (with `salt`, `None` counting as empty).
pub fn verify(password: &str, pwd: &str, salt: Option<&str>) -> bool {
    let expected = match pwd.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
        Some(("SHA-512", _)) => sha512(password, salt.unwrap_or_default()),
        Some(("SHA", _)) => format!("{{SHA}}{}", STANDARD.encode(Sha1::digest(password.as_bytes()))),
        _ => return false,
    };
    constant_time_eq(expected.as_bytes(), pwd.as_bytes())
}

/// Compares without an early exit, so timing tells nothing about where a guess went wrong.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hashes_verify_and_wrong_passwords_do_not() {
        let (pwd, salt) = hash_new("s3cret");
        assert!(pwd.starts_with("{SHA-512}"));
        assert!(verify("s3cret", &pwd, Some(&salt)));
        assert!(!verify("s3cret!", &pwd, Some(&salt)));
        assert!(!verify("s3cret", &pwd, None));
    }

    #[test]
    fn camundas_own_hashes_verify() {
        // Computed outside Rust: SHA-512 of "demo" + "salt", and the legacy SHA-1 of "demo".
        let sha512 =
            "{SHA-512}PRrvomWieyvBQdmbEKxkdxJv5Vnu5QDLb7GfcmX7EmbqcJ2Ok62m9v+FkyWs7msdivnZJglPw0XLKeZstQpNTQ==";
        assert!(verify("demo", sha512, Some("salt")));
        assert!(!verify("demo", sha512, Some("pepper")));
        assert!(verify("demo", "{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=", None));
        assert!(!verify("demO", "{SHA}ieSV55Qc+eQOaYDRSha/AjzNTJE=", None));
        assert!(!verify("demo", "{MD5}whatever", None), "unknown algorithms never match");
        assert!(!verify("demo", "plain", None));
    }
}
