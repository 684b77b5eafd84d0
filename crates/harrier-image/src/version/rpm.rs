//! RPM version ordering (`[epoch:]version[-release]`), as rpm's `rpmvercmp` defines it:
//! alphanumeric segments, numbers above letters, `~` before everything (pre-releases), `^` after
//! the end but before any further segment (snapshots).

use std::cmp::Ordering;

fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while x.first().is_some_and(|c| sep(*c)) {
            x = &x[1..];
        }
        while y.first().is_some_and(|c| sep(*c)) {
            y = &y[1..];
        }
        // Tilde: sorts before everything, even the end.
        if x.first() == Some(&b'~') || y.first() == Some(&b'~') {
            if x.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if y.first() != Some(&b'~') {
                return Ordering::Less;
            }
            x = &x[1..];
            y = &y[1..];
            continue;
        }
        // Caret: after the end, before anything else.
        if x.first() == Some(&b'^') || y.first() == Some(&b'^') {
            if x.is_empty() {
                return Ordering::Less;
            }
            if y.is_empty() {
                return Ordering::Greater;
            }
            if x.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if y.first() != Some(&b'^') {
                return Ordering::Less;
            }
            x = &x[1..];
            y = &y[1..];
            continue;
        }
        if x.is_empty() || y.is_empty() {
            break;
        }
        let numeric = x[0].is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (nx, ny) = (take(x), take(y));
        let (sx, sy) = (&x[..nx], &y[..ny]);
        if sy.is_empty() {
            // Different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let o = if numeric {
            let tx = &sx[sx.iter().take_while(|c| **c == b'0').count()..];
            let ty = &sy[sy.iter().take_while(|c| **c == b'0').count()..];
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            sx.cmp(sy)
        };
        if o != Ordering::Equal {
            return o;
        }
        x = &x[nx..];
        y = &y[ny..];
    }
    match (x.is_empty(), y.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn split(v: &str) -> (u64, &str, Option<&str>) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((ver, rel)) => (epoch, ver, Some(rel)),
        None => (epoch, rest, None),
    }
}

/// Compares two RPM versions (`[epoch:]version[-release]`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(x), Some(y)) => rpmvercmp(x, y),
            (None, None) => Ordering::Equal,
            // A version with a release (even an empty one) is newer than the bare version.
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        })
}
