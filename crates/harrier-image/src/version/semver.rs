//! Semantic versioning 2.0 ordering, tolerant: a leading `v`, missing minor/patch, build
//! metadata ignored.

use std::cmp::Ordering;

/// A number of any length, compared by value.
fn num(s: &str) -> &str {
    let s = s.trim_start_matches('0');
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s
    } else {
        ""
    }
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn parse(v: &str) -> (Vec<&str>, Option<&str>) {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let v = v.split('+').next().unwrap_or(v);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let mut nums: Vec<&str> = core.split('.').map(num).collect();
    while nums.len() < 3 {
        nums.push("");
    }
    (nums, pre)
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let (mut ia, mut ib) = (a.split('.'), b.split('.'));
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                let o = match (numeric(x), numeric(y)) {
                    (true, true) => cmp_num(num(x), num(y)),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// Compares two semantic versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (na, pa) = parse(a);
    let (nb, pb) = parse(b);
    let core = na
        .iter()
        .zip(nb.iter())
        .map(|(x, y)| cmp_num(x, y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or_else(|| na.len().cmp(&nb.len()));
    core.then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => cmp_pre(x, y),
    })
}
