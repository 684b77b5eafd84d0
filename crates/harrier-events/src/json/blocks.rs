//! Finding the end of an object or array 64 bytes at a time.
//!
//! [`skip_container`](super::skip_value_fast)'s scalar loop looks at every byte and calls a
//! string scan at every quote; CloudTrail records are mostly short strings, so most of the time
//! went to starting scans. Here a block of 64 bytes becomes four bit masks (quotes,
//! backslashes, opening and closing brackets), eight bytes at a time in a machine word;
//! escaped characters come from the backslash mask, "inside a string" from a prefix XOR of the
//! unescaped quotes, and only the brackets outside strings are visited one by one. Anything
//! unusual (a bad escape, nesting past [`MAX_DEPTH`](super::MAX_DEPTH), the end of the buffer)
//! returns `None` so that the scalar loop runs and reports the error exactly as before.

use super::MAX_DEPTH;

/// Bit masks of one 64-byte block: bit `k` is byte `k`.
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

fn masks(block: &[u8; 64]) -> Masks {
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        open: 0,
        close: 0,
    };
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        let (mut q, mut bs, mut o, mut c) = (0u16, 0u16, 0u16, 0u16);
        for (i, &x) in chunk.iter().enumerate() {
            let folded = x | 0x20;
            q |= ((x == b'"') as u16) << i;
            bs |= ((x == b'\\') as u16) << i;
            o |= ((folded == b'{') as u16) << i;
            c |= ((folded == b'}') as u16) << i;
        }
        let at = 16 * k;
        m.quote |= (q as u64) << at;
        m.backslash |= (bs as u64) << at;
        m.open |= (o as u64) << at;
        m.close |= (c as u64) << at;
    }
    m
}

/// XOR of every bit at or below each position.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Whether `c` may follow a backslash, and for `\u` whether four hex digits follow (at `at` in
/// `b`, the escaped character's position).
#[inline]
fn escape_ok(b: &[u8], at: usize) -> bool {
    match b.get(at) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => true,
        Some(b'u') => b
            .get(at + 1..at + 5)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        _ => false,
    }
}

/// The index just past the object or array opening at `start` (`b[start]` is `{` or `[`), or
/// `None` when the scalar loop must decide (an error of some kind, or the buffer ends first).
pub(super) fn skip_container(b: &[u8], start: usize) -> Option<usize> {
    debug_assert!(matches!(b.get(start), Some(b'{' | b'[')));
    let mut pos = start;
    let mut depth = 0usize;
    // Whether the block's first byte is escaped, and whether it starts inside a string.
    let mut escaped_in = false;
    let mut in_string = 0u64;
    let mut block = [0u8; 64];
    while pos < b.len() {
        let n = (b.len() - pos).min(64);
        block[..n].copy_from_slice(&b[pos..pos + n]);
        // Zero padding is none of the bytes looked for.
        block[n..].fill(0);
        let m = masks(&block);
        // Escaped bytes: the byte after each backslash that is not itself escaped.
        let mut escaped = escaped_in as u64;
        let mut next_escaped = false;
        let mut bs = m.backslash & !escaped;
        while bs != 0 {
            let k = bs.trailing_zeros();
            if k == 63 {
                next_escaped = true;
                bs = 0;
            } else {
                escaped |= 1 << (k + 1);
                bs &= !(1 << (k + 1));
                bs &= bs - 1;
            }
        }
        let mut check = escaped;
        while check != 0 {
            let k = check.trailing_zeros() as usize;
            if !escape_ok(b, pos + k) {
                return None;
            }
            check &= check - 1;
        }
        let quotes = m.quote & !escaped;
        let inside = prefix_xor(quotes) ^ in_string;
        // A backslash outside a string is not JSON; the scalar loop ignores it, so it decides.
        if m.backslash & !escaped & !inside != 0 {
            return None;
        }
        let mut brackets = (m.open | m.close) & !inside;
        while brackets != 0 {
            let k = brackets.trailing_zeros();
            if m.open >> k & 1 == 1 {
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
            } else {
                depth -= 1;
                if depth == 0 {
                    return Some(pos + k as usize + 1);
                }
            }
            brackets &= brackets - 1;
        }
        in_string = ((inside as i64) >> 63) as u64;
        escaped_in = next_escaped;
        pos += 64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::skip_container_scalar;
    use super::skip_container;

    /// The block scan agrees with the byte loop wherever it answers, and answers on valid JSON.
    fn same(b: &[u8], start: usize) {
        if !matches!(b.get(start), Some(b'{' | b'[')) {
            return;
        }
        let scalar = skip_container_scalar(b, start);
        if let Some(end) = skip_container(b, start) {
            assert_eq!(
                Ok(end),
                scalar,
                "{:?} from {start}",
                String::from_utf8_lossy(b)
            );
        }
    }

    fn corpus_records() -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/cloudtrail/panther-rule-tests.jsonl");
        std::fs::read(dir)
            .expect("the shared corpus")
            .split(|&c| c == b'\n')
            .filter(|l| l.starts_with(b"{"))
            .map(<[u8]>::to_vec)
            .collect()
    }

    #[test]
    fn real_records_end_where_the_byte_loop_ends() {
        let records = corpus_records();
        assert!(records.len() > 100);
        for r in &records {
            // Every record is valid JSON: the block scan must answer, not fall back.
            assert_eq!(
                skip_container(r, 0),
                Some(r.len()),
                "{}",
                String::from_utf8_lossy(r)
            );
            // And from every nested container's opening bracket.
            for (k, &c) in r.iter().enumerate() {
                if c == b'{' || c == b'[' {
                    same(r, k);
                }
            }
        }
    }

    #[test]
    fn damaged_records_agree_or_fall_back() {
        // Every record, damaged at many places in the ways that matter to the scan: quotes,
        // backslashes, brackets and truncation.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for r in corpus_records().iter().take(400) {
            for _ in 0..20 {
                let mut d = r.clone();
                for _ in 0..1 + next() % 3 {
                    let at = (next() as usize) % d.len();
                    let what = [b'"', b'\\', b'{', b'}', b'[', b']', b'u', b'x'];
                    d[at] = what[(next() % what.len() as u64) as usize];
                }
                if next() % 4 == 0 {
                    d.truncate(1 + (next() as usize) % d.len());
                }
                same(&d, 0);
            }
        }
        // Hand-made edges: escapes across a block boundary, runs of backslashes, `\u`.
        for n in 0..130 {
            let pad = "a".repeat(n);
            for tail in [
                r#"\\"]"#,
                r#"\""]"#,
                r#"\\\"x"]"#,
                r#"\u00e9"]"#,
                r#"\u00"]"#,
                r#"\q"]"#,
                r#"]"]"#,
            ] {
                let s = format!(r#"["{pad}{tail}, 1]"#);
                same(s.as_bytes(), 0);
            }
            let s = format!(r#"[{pad}\"]"]"#);
            same(s.as_bytes(), 0);
        }
        let deep = format!("{}{}", "[".repeat(600), "]".repeat(600));
        assert_eq!(skip_container(deep.as_bytes(), 0), None);
    }
}
