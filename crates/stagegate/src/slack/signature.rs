//! Slack's request signatures, as Slack documents them ("Verifying requests from
//! Slack"): `X-Slack-Signature: v0=<hex HMAC-SHA256>` over `v0:{timestamp}:{body}`
//! with the app's signing secret, `X-Slack-Request-Timestamp` in Unix seconds.
//! Compared in constant time; a timestamp more than five minutes from now is refused
//! before anything else (a captured request cannot be replayed later), and the
//! endpoint claims each signature once (nor within those five minutes).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Why a request is not accepted as Slack's: every case is a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsigned {
    MissingTimestamp,
    MissingSignature,
    Malformed,
    Stale,
    Mismatch,
}

impl Unsigned {
    pub fn message(self) -> &'static str {
        match self {
            Unsigned::MissingTimestamp => "missing X-Slack-Request-Timestamp header",
            Unsigned::MissingSignature => "missing X-Slack-Signature header",
            Unsigned::Malformed => {
                "X-Slack-Signature must be 'v0=<64 hex digits>' and the timestamp Unix seconds"
            }
            Unsigned::Stale => "the request's timestamp is more than five minutes from now",
            Unsigned::Mismatch => "the signature does not match: check the Slack signing secret",
        }
    }
}

/// Checks a request's signature; `Ok` only for a well-formed, current, matching one.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Unsigned> {
    let timestamp = timestamp.ok_or(Unsigned::MissingTimestamp)?;
    let signature = signature.ok_or(Unsigned::MissingSignature)?;
    let seconds: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.len() <= 12 && timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Unsigned::Malformed)?;
    if (now.timestamp() - seconds).abs() > MAX_SKEW_SECONDS {
        return Err(Unsigned::Stale);
    }
    let digest = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .filter(|d| d.len() == 32)
        .ok_or(Unsigned::Malformed)?;
    let mac = mac(secret, timestamp, body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&digest).map_err(|_| Unsigned::Mismatch)
}

/// `v0=<hex>`: what Slack sends for `body` at `timestamp` (the local stand-in and
/// tests sign with it).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for SHA-256.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
    }

    /// Slack's own worked example ("Verifying requests from Slack").
    #[test]
    fn slacks_documented_example_verifies() {
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(SECRET, "1531420618", body), sig);
        assert_eq!(
            verify(
                SECRET,
                Some("1531420618"),
                Some(sig),
                body,
                at(1531420618 + 60)
            ),
            Ok(())
        );
    }

    #[test]
    fn missing_wrong_malformed_and_stale_signatures_are_refused() {
        let body = b"payload=%7B%7D";
        let now = at(1_800_000_000);
        let ts = "1800000000";
        let good = sign(SECRET, ts, body);
        let cases: [(Option<&str>, Option<&str>, Unsigned); 6] = [
            (None, Some(&good), Unsigned::MissingTimestamp),
            (Some(ts), None, Unsigned::MissingSignature),
            (Some(ts), Some("v1=00"), Unsigned::Malformed),
            (Some("-5"), Some(&good), Unsigned::Malformed),
            (Some("1799999699"), Some(&good), Unsigned::Stale),
            (
                Some(ts),
                Some(&sign(b"another secret", ts, body)),
                Unsigned::Mismatch,
            ),
        ];
        for (t, s, want) in cases {
            assert_eq!(verify(SECRET, t, s, body, now), Err(want), "{t:?} {s:?}");
        }
        // Five minutes either way is still current.
        let early = "1800000300";
        let sig = sign(SECRET, early, body);
        assert_eq!(verify(SECRET, Some(early), Some(&sig), body, now), Ok(()));
        // One byte of the body changed.
        assert_eq!(
            verify(SECRET, Some(ts), Some(&good), b"payload=%7B%7D ", now),
            Err(Unsigned::Mismatch)
        );
    }
}
