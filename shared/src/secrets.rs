//! Secrets and the keyed hashes that stand in for them: the only form in which
//! member secrets, organiser keys, resume tokens and source addresses are kept.
//!
//! One stack-wide key (`HASH_KEY` on AWS, a file or a fresh random key locally)
//! keys every hash. A member's id is a keyed hash under a per-circle key derived
//! from the stack key and the circle's random id: pseudonymous, different in
//! every circle, and never stored, so a copy of the tables alone links nothing.

use rand::Rng;
use ring::hmac;

/// Letters and digits that read without ambiguity, for ids and tokens.
const TOKEN_CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Shortest `member` secret, in characters; a secret is 16–64 of `A-Z a-z 0-9 _ -`.
pub const MEMBER_MIN: usize = 16;
/// Longest `member` secret, in characters.
pub const MEMBER_MAX: usize = 64;

/// A random token of `len` characters from a CSPRNG (`rand::rng()` is ChaCha
/// seeded by the OS); 22 characters carry 128 bits.
pub fn token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(TOKEN_CHARS[rng.random_range(0..TOKEN_CHARS.len())]))
        .collect()
}

/// Whether a client's `member` secret has the allowed shape.
pub fn valid_member_secret(s: &str) -> bool {
    (MEMBER_MIN..=MEMBER_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether a `member_id` (as the organiser API receives it) has the shape this
/// module makes: lower-case hex of [`MEMBER_ID_BYTES`].
pub fn valid_member_id(s: &str) -> bool {
    s.len() == MEMBER_ID_BYTES * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Bytes of a member id (80 bits: no collision in any circle that fits a planet).
pub const MEMBER_ID_BYTES: usize = 10;

/// The stack-wide hashing key.
#[derive(Clone)]
pub struct HashKey(Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(..)")
    }
}

impl HashKey {
    /// A key from raw bytes (`HASH_KEY`'s on AWS).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A fresh random key (records hashed under it can't be matched after a restart).
    pub fn random() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill(bytes.as_mut_slice());
        Self(bytes)
    }

    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0)
    }

    /// What is hashed: the domain, then each part length-prefixed, so
    /// ("ab","c") and ("a","bc") hash differently.
    fn message(domain: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut msg = domain.as_bytes().to_vec();
        for part in parts {
            msg.extend_from_slice(&(part.len() as u64).to_be_bytes());
            msg.extend_from_slice(part);
        }
        msg
    }

    fn mac(&self, domain: &str, parts: &[&[u8]]) -> Vec<u8> {
        hmac::sign(&self.key(), &Self::message(domain, parts))
            .as_ref()
            .to_vec()
    }

    /// A keyed hash for storage, hex.
    pub fn hash(&self, domain: &str, secret: &str) -> String {
        hex(&self.mac(domain, &[secret.as_bytes()]))
    }

    /// A member's id in a circle: a keyed hash of its secret under the circle's
    /// own key (derived from this key and the circle's random id).
    pub fn member_id(&self, circle_id: &str, member_secret: &str) -> String {
        let circle_key = self.mac("circle-member-key", &[circle_id.as_bytes()]);
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &circle_key),
            member_secret.as_bytes(),
        );
        hex(&tag.as_ref()[..MEMBER_ID_BYTES])
    }

    /// Whether `secret` hashes (under `domain`) to `stored`; ring compares the
    /// tags in constant time.
    pub fn verify(&self, domain: &str, secret: &str, stored: &str) -> bool {
        let Some(tag) = unhex(stored) else {
            return false;
        };
        hmac::verify(
            &self.key(),
            &Self::message(domain, &[secret.as_bytes()]),
            &tag,
        )
        .is_ok()
    }
}

/// Hash domains, so one hash can never stand in for another.
pub mod domain {
    /// Organiser keys: the circle's `okh` and the `ORG#` index.
    pub const ORGANIZER: &str = "organizer-key";
    /// Resume tokens: `rh` on a connection and on a held seat.
    pub const RESUME: &str = "resume-token";
    /// Source addresses: the `RL#` creation limit.
    pub const ADDRESS: &str = "source-address";
    /// Access codes that no longer admit anyone: the `TOMB#` tombstones.
    pub const CODE: &str = "access-code";
}

/// Bytes from lowercase or uppercase hex; `None` if it isn't hex.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            write!(s, "{b:02x}").expect("writing to a String cannot fail");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_differ_by_circle_and_are_stable() {
        let k = HashKey::new(b"k".to_vec());
        let a = k.member_id("c1", "secret-secret-123");
        assert_eq!(a, k.member_id("c1", "secret-secret-123"));
        assert_ne!(a, k.member_id("c2", "secret-secret-123"));
        assert_ne!(
            a,
            HashKey::new(b"other".to_vec()).member_id("c1", "secret-secret-123")
        );
        assert!(valid_member_id(&a));
    }

    #[test]
    fn verification_is_exact() {
        let k = HashKey::random();
        let stored = k.hash(domain::ORGANIZER, "key");
        assert!(k.verify(domain::ORGANIZER, "key", &stored));
        assert!(!k.verify(domain::ORGANIZER, "kex", &stored));
        assert!(!k.verify(domain::RESUME, "key", &stored));
    }

    #[test]
    fn member_secrets_are_checked() {
        assert!(valid_member_secret("abcdefghijklmnop"));
        assert!(valid_member_secret(&"a-_9".repeat(16)));
        assert!(!valid_member_secret("short"));
        assert!(!valid_member_secret(&"a".repeat(65)));
        assert!(!valid_member_secret("abcdefghijklmno!"));
        assert_eq!(token(22).len(), 22);
    }
}
