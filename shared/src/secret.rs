//! Secret newtypes: the only way a client secret, private key, access token, session handle or
//! master key is held in memory.
//!
//! Each type has a redacted `Debug`, no `Display`, no `Serialize`, no derived `Clone`, is zeroized
//! on drop, and gives its value out only through an explicit `expose_secret()` — so one grep for
//! `expose_secret` lists every place a secret is read. Compare secrets with [`SecretString::ct_eq`]
//! / [`SecretBytes::ct_eq`] (constant time), never with `==`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A secret text value (client secret, access token, session handle).
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `value`. The caller's `String` moves in without a copy.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret value. Every call site is a place where the secret is used; keep them few.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with another secret.
    pub fn ct_eq(&self, other: &SecretString) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }

    /// An explicit copy. Deliberately not `Clone`, so copies are visible in review.
    pub fn clone_secret(&self) -> Self {
        Self::new(self.0.as_str().to_owned())
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretString([redacted {} bytes])", self.0.len())
    }
}

impl ZeroizeOnDrop for SecretString {}

/// Secret bytes (private key DER, master key, signing key seed, decrypted PEM).
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Takes ownership of `value`.
    pub fn new(value: Vec<u8>) -> Self {
        Self(Zeroizing::new(value))
    }

    /// A zero-filled buffer of `len` bytes, allocated once at its final size so that filling
    /// it never reallocates (a reallocation would leave an unzeroized copy behind).
    pub fn zeroed(len: usize) -> Self {
        Self::new(vec![0; len])
    }

    /// Copies `value` into a new secret and zeroizes nothing of the source: use for borrowed
    /// input whose owner zeroizes it.
    pub fn copy_from(value: &[u8]) -> Self {
        Self::new(value.to_vec())
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access, for filling a buffer made by [`SecretBytes::zeroed`].
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with another secret.
    pub fn ct_eq(&self, other: &SecretBytes) -> bool {
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }

    /// An explicit copy. Deliberately not `Clone`.
    pub fn clone_secret(&self) -> Self {
        Self::copy_from(&self.0)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted {} bytes])", self.0.len())
    }
}

impl ZeroizeOnDrop for SecretBytes {}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "Abc~8Q~very+secret/value==";

    #[test]
    fn debug_never_prints_the_value() {
        let s = SecretString::new(VALUE.to_owned());
        let printed = format!("{s:?} {s:#?} {:?}", Some(&s));
        assert!(!printed.contains(VALUE));
        assert!(!printed.contains("very+secret"));
        assert!(printed.contains("redacted 26 bytes"));

        let b = SecretBytes::new(VALUE.as_bytes().to_vec());
        let printed = format!("{b:?} {b:#?}");
        assert!(!printed.contains(VALUE));
        // Debug of a Vec<u8> would print the numbers; make sure no byte list leaks either.
        assert!(!printed.contains("65, 98, 99"));
    }

    #[test]
    fn secrets_inside_derived_debug_stay_redacted() {
        #[derive(Debug)]
        #[allow(dead_code, reason = "only printed")]
        struct Holder {
            name: &'static str,
            secret: SecretString,
        }
        let h = Holder {
            name: "conn",
            secret: SecretString::new(VALUE.to_owned()),
        };
        let printed = format!("{h:?}");
        assert!(printed.contains("conn"));
        assert!(!printed.contains(VALUE));
    }

    #[test]
    fn expose_and_compare() {
        let a = SecretString::new(VALUE.to_owned());
        let b = a.clone_secret();
        assert_eq!(a.expose_secret(), VALUE);
        assert!(a.ct_eq(&b));
        assert!(!a.ct_eq(&SecretString::new("other".to_owned())));
        assert!(!a.ct_eq(&SecretString::new(String::new())));

        let mut buf = SecretBytes::zeroed(4);
        buf.expose_secret_mut().copy_from_slice(b"abcd");
        assert!(buf.ct_eq(&SecretBytes::copy_from(b"abcd")));
        buf.zeroize();
        assert!(buf.expose_secret().iter().all(|&x| x == 0) || buf.is_empty());
    }
}
