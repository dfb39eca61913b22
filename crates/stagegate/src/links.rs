//! Personal approval links and the review form's token: random link ids (only their
//! SHA-256 is stored), approval ids and form keys, the CSRF token bound to one link,
//! and the rules a configured approver must meet. Pure functions: the approval desk
//! ([`crate::desk`]) and the steps use them.

use crate::records::{ApprovalRecord, Approver, Link};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a link id: 32 random bytes, base64url without padding.
pub const LINK_ID_LEN: usize = 43;

/// SHA-256 of a link id, hex.
pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// A new random link id: 43 base64url characters (256 bits).
pub fn new_link_id() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    // base64url without padding, by hand to keep this crate's dependencies small.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(LINK_ID_LEN);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out
}

/// 32 random bytes, hex: approval ids and form keys.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A link id has the shape we issue: 43 base64url characters.
pub fn is_link_id(id: &str) -> bool {
    id.len() == LINK_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The review form's CSRF token for `link`: HMAC-SHA256 over the link and its expiry,
/// keyed by the approval's own random key, so it is bound to this approval, this
/// approver and this expiry, and cannot be made without the server's record.
pub fn form_token(record: &ApprovalRecord, link: &Link) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(record.form_key.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(b"stagegate-form|");
    mac.update(link.id_hash.as_bytes());
    mac.update(b"|");
    mac.update(link.expires_at.timestamp().to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `token` is the form token of `link`, compared in constant time.
pub fn check_form_token(record: &ApprovalRecord, link: &Link, token: &str) -> bool {
    if record.form_key.is_empty() {
        return false;
    }
    let expected = form_token(record, link);
    expected.len() == token.len() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
}

/// Checks an approver as configured; the message names the problem.
pub fn validate_approver(a: &Approver) -> Result<(), String> {
    if a.id.is_empty()
        || a.id.len() > 64
        || !a
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(format!(
            "approver id '{}' must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            a.id
        ));
    }
    let email_ok = a.email.len() <= 254
        && !a.email.chars().any(|c| c.is_whitespace() || c.is_control())
        && a.email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !email_ok {
        return Err(format!(
            "approver {}: '{}' is not an email address",
            a.id, a.email
        ));
    }
    if let Some(g) = &a.github {
        // GitHub logins: alphanumerics and single hyphens, at most 39 characters.
        let ok = !g.is_empty()
            && g.len() <= 39
            && g.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !g.starts_with('-');
        if !ok {
            return Err(format!("approver {}: '{g}' is not a GitHub login", a.id));
        }
    }
    if a.decides.is_empty() {
        return Err(format!(
            "approver {} decides nothing: give deployment, acceptance or both",
            a.id
        ));
    }
    Ok(())
}
