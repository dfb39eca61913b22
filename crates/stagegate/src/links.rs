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
/// Longest reason accepted with a decision, in characters.
pub const MAX_REASON: usize = 2000;

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
    if let Some(member) = &a.slack {
        member_id(member).map_err(|e| format!("approver {}: {e}", a.id))?;
    }
    for p in &a.principals {
        if !is_stable_principal(p) {
            return Err(format!(
                "approver {}: '{p}' is not a principal stagegate can match: give an IAM user's ARN (arn:aws:iam::<account>:user/<name>) or an IAM Identity Center session's (arn:aws:sts::<account>:assumed-role/AWSReservedSSO_<set>_<id>/<user>), whose names the caller cannot choose",
                a.id
            ));
        }
    }
    Ok(())
}

/// A Slack member id: `U` or `W` and 2–20 upper-case letters or digits.
pub fn member_id(v: &str) -> Result<String, String> {
    slack_id(v, "UW", "member id (U0123ABCD)")
}

/// A Slack id (member, workspace, …): one of `first` and 2–20 upper-case letters or
/// digits; else an error naming `what` it is not.
pub fn slack_id(v: &str, first: &str, what: &str) -> Result<String, String> {
    let ok = (3..=21).contains(&v.len())
        && v.starts_with(|c| first.contains(c))
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!("'{v}' is not a Slack {what}"))
    }
}

/// A caller ARN that names one person whatever they do: an IAM user, or an IAM
/// Identity Center session (AWS sets its session name to the user's name). Other
/// assumed roles are refused: their session names are the caller's to choose.
pub fn is_stable_principal(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if prefix != "arn" || !partition.starts_with("aws") || !region.is_empty() || !account_ok {
        return false;
    }
    match service {
        "iam" => resource
            .strip_prefix("user/")
            .is_some_and(|n| !n.is_empty() && !n.contains('*')),
        "sts" => resource
            .strip_prefix("assumed-role/AWSReservedSSO_")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(role, user)| {
                !role.is_empty() && !user.is_empty() && !user.contains('/')
            }),
        _ => false,
    }
}

/// Refuses a set of approvers in which two ids share an identity — an email, a
/// GitHub login or id, an AWS principal — naming both: one person must not count as
/// two.
pub fn check_distinct(approvers: &[Approver]) -> Result<(), String> {
    let mut seen: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for a in approvers {
        let mut identities = vec![format!("email {}", a.email.to_ascii_lowercase())];
        identities.extend(
            a.github
                .iter()
                .map(|g| format!("GitHub login {}", g.to_ascii_lowercase())),
        );
        identities.extend(a.github_id.iter().map(|g| format!("GitHub id {g}")));
        identities.extend(a.principals.iter().map(|p| format!("AWS principal {p}")));
        identities.extend(a.slack.iter().map(|m| format!("Slack member {m}")));
        for identity in identities {
            if let Some(other) = seen.insert(identity.clone(), &a.id) {
                if other != a.id {
                    return Err(format!(
                        "approvers {other} and {} share the {identity}: one person must be one approver",
                        a.id
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::approver;

    #[test]
    fn a_slack_id_is_its_letter_and_2_to_20_capitals_or_digits() {
        assert_eq!(member_id("U0123ABCD").unwrap(), "U0123ABCD");
        assert_eq!(member_id("W12").unwrap(), "W12");
        for bad in [
            "U1",
            "u0123",
            "T0123",
            "U0123abc",
            "U0123ABCDEFGHIJKLMNOPQ",
            "",
        ] {
            let e = member_id(bad).unwrap_err();
            assert!(
                e.contains("is not a Slack member id (U0123ABCD)"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            slack_id("U0", "T", "workspace id").unwrap_err(),
            "'U0' is not a Slack workspace id"
        );
    }

    #[test]
    fn duplicate_identities_are_refused_naming_both() {
        let sso = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/ana@example.com";
        let twins: [(Approver, Approver, &str); 5] = [
            (
                approver("ana", None),
                Approver {
                    email: "ANA@example.com".into(),
                    ..approver("ana2", None)
                },
                "email",
            ),
            (
                approver("ana", Some("ana-gh")),
                approver("ana2", Some("Ana-GH")),
                "GitHub login",
            ),
            (
                Approver {
                    github_id: Some(7),
                    ..approver("ana", None)
                },
                Approver {
                    github_id: Some(7),
                    ..approver("ana2", None)
                },
                "GitHub id",
            ),
            (
                Approver {
                    principals: vec![sso.into()],
                    ..approver("ana", None)
                },
                Approver {
                    principals: vec![sso.into()],
                    ..approver("ana2", None)
                },
                "AWS principal",
            ),
            (
                Approver {
                    slack: Some("U0ANA".into()),
                    ..approver("ana", None)
                },
                Approver {
                    slack: Some("U0ANA".into()),
                    ..approver("ana2", None)
                },
                "Slack member U0ANA",
            ),
        ];
        for (a, b, what) in twins {
            let e = check_distinct(&[a, b]).unwrap_err();
            assert!(e.contains("ana and ana2") && e.contains(what), "{e}");
        }
        assert!(check_distinct(&[
            approver("bob", Some("bob-gh")),
            approver("carol", Some("carol-gh"))
        ])
        .is_ok());
    }

    #[test]
    fn a_slack_id_must_be_a_member_id() {
        for (member, ok) in [
            ("U0123ABCD", true),
            ("W0123ABCD", true),
            ("u0123abcd", false),
            ("T0123ABCD", false),
            ("U", false),
            ("<!channel>", false),
        ] {
            let a = Approver {
                slack: Some(member.into()),
                ..approver("ana", None)
            };
            assert_eq!(validate_approver(&a).is_ok(), ok, "{member}");
        }
    }

    #[test]
    fn only_principals_that_name_one_person_are_accepted() {
        for ok in [
            "arn:aws:iam::123456789012:user/ana",
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/ana@example.com",
            "arn:aws-us-gov:iam::123456789012:user/ops/ana",
        ] {
            assert!(is_stable_principal(ok), "{ok}");
        }
        for bad in [
            // The session name of an ordinary assumed role is the caller's to choose.
            "arn:aws:sts::123456789012:assumed-role/Admin/ana",
            "arn:aws:iam::123456789012:role/Admin",
            "arn:aws:iam::123456789012:user/*",
            "arn:aws:iam::12345:user/ana",
            "ana",
            "",
        ] {
            assert!(!is_stable_principal(bad), "{bad}");
            let a = Approver {
                principals: vec![bad.into()],
                ..approver("ana", None)
            };
            assert!(validate_approver(&a).is_err(), "{bad}");
        }
    }
}
