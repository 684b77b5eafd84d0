//! Record splitting over every layout and every kind of bad input.

use std::io::{Cursor, Write};

use harrier_sources::{open, ReadErrorKind, RecordReader, MAX_RECORD_BYTES};

/// Reads everything: records as strings, errors as (offset, kind).
fn read_all(bytes: Vec<u8>) -> (Vec<String>, Vec<(u64, ReadErrorKind)>) {
    let mut r = open(Cursor::new(bytes)).unwrap();
    collect(&mut r)
}

fn collect<R: std::io::Read>(r: &mut RecordReader<R>) -> (Vec<String>, Vec<(u64, ReadErrorKind)>) {
    let (mut recs, mut errs) = (Vec::new(), Vec::new());
    while let Some(item) = r.next_record() {
        match item {
            Ok(rec) => recs.push(String::from_utf8(rec.bytes.to_vec()).unwrap()),
            Err(e) => errs.push((e.offset, e.kind)),
        }
    }
    (recs, errs)
}

#[test]
fn cloudtrail_wrapper_array_and_lines() {
    let (r, e) = read_all(br#"{"Records": [{"a":1}, {"b":[2]}]}"#.to_vec());
    assert_eq!(r, vec![r#"{"a":1}"#, r#"{"b":[2]}"#]);
    assert!(e.is_empty());
    let (r, e) = read_all(b"[\n {\"a\": 1},\n {\"b\": 2}\n]\n".to_vec());
    assert_eq!(r.len(), 2);
    assert!(e.is_empty());
    let (r, e) = read_all(b"{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}".to_vec());
    assert_eq!(r, vec!["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    assert!(e.is_empty());
    // Pretty-printed records one after another, and two CloudTrail files concatenated.
    let (r, e) = read_all(b"{\n \"a\": {\"x\": 1}\n}\n{\n \"b\": 2\n}\n".to_vec());
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(e.is_empty());
    let (r, _) = read_all(br#"{"Records":[{"a":1}]}{"Records":[{"b":1},{"c":1}]}"#.to_vec());
    assert_eq!(r.len(), 3);
    let (r, e) = read_all(br#"{"Records":[]}"#.to_vec());
    assert!(r.is_empty() && e.is_empty());
}

#[test]
fn gzip_is_detected_by_content() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(br#"{"Records":[{"a":1},{"b":2}]}"#).unwrap();
    let bytes = gz.finish().unwrap();
    let (r, e) = read_all(bytes.clone());
    assert_eq!(r.len(), 2);
    assert!(e.is_empty());
    // Truncated gzip: an error naming the problem, never a panic.
    let (_, e) = read_all(bytes[..bytes.len() - 10].to_vec());
    assert_eq!(
        e.len(),
        1,
        "{e:?} {:?}",
        read_all(bytes[..bytes.len() - 10].to_vec()).0
    );
    assert!(
        matches!(e[0].1, ReadErrorKind::Io(_) | ReadErrorKind::Truncated),
        "{e:?}"
    );
}

#[test]
fn bad_lines_are_reported_with_offsets_and_skipped() {
    let input = b"{\"a\":1}\nnot json\n{\"b\":\n[1,2]\n\"str\"\n{\"c\":3}\n".to_vec();
    let (r, e) = read_all(input);
    assert_eq!(r, vec!["{\"a\":1}", "{\"c\":3}"], "{e:?}");
    assert_eq!(e[0].0, 8);
    assert_eq!(e[0].1, ReadErrorKind::NotAnObject("'not json'".into()));
    let offsets: Vec<u64> = e.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, vec![8, 29, 23, 29], "{e:?}");
}

#[test]
fn truncated_record_at_end() {
    let (r, e) = read_all(br#"{"Records":[{"a":1},{"b":"#.to_vec());
    assert_eq!(r.len(), 1);
    assert_eq!(e, vec![(20, ReadErrorKind::Truncated)]);
    let (r, e) = read_all(b"{\"a\":1}\n{\"b\":[1,".to_vec());
    assert_eq!(r.len(), 1);
    assert_eq!(e.len(), 1);
}

#[test]
fn huge_line_is_skipped_and_reading_goes_on() {
    let mut input = b"{\"a\":1}\n{\"big\":\"".to_vec();
    input.extend(std::iter::repeat_n(b'x', 50 << 20));
    input.extend(b"\"}\n{\"c\":3}\n");
    let (r, e) = read_all(input);
    assert_eq!(r, vec!["{\"a\":1}", "{\"c\":3}"]);
    assert_eq!(e, vec![(8, ReadErrorKind::TooLarge)]);
    const { assert!(MAX_RECORD_BYTES < 50 << 20) };
}

#[test]
fn deep_nesting_is_an_error() {
    let mut input = b"{\"a\":".to_vec();
    input.extend(std::iter::repeat_n(b'[', 1_000_000));
    input.extend(b"\n{\"ok\":1}\n");
    let (r, e) = read_all(input);
    assert_eq!(r, vec!["{\"ok\":1}"]);
    assert!(
        matches!(
            e[0].1,
            ReadErrorKind::Json(harrier_events::json::JsonErrorKind::TooDeep)
        ),
        "{e:?}"
    );
}

#[test]
fn non_object_array_elements_are_errors() {
    let (r, e) = read_all(br#"[{"a":1}, 5, {"b":2}]"#.to_vec());
    assert_eq!(r.len(), 2);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 10);
}

/// Records crossing read-chunk boundaries (the buffer is compacted and refilled under them)
/// come out whole, in every layout.
#[test]
fn records_spanning_chunks_are_intact() {
    let records: Vec<String> = (0..5000)
        .map(|i| format!("{{\"i\":{i},\"pad\":\"{}\"}}", "y".repeat((i * 37) % 700)))
        .collect();
    let lines = records.join("\n").into_bytes();
    let wrapped = format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes();
    let pretty = records
        .iter()
        .map(|r| r.replace(",", ",\n  "))
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes();
    for (name, input) in [("lines", lines), ("wrapped", wrapped), ("pretty", pretty)] {
        let (r, e) = read_all(input);
        assert!(e.is_empty(), "{name}: {e:?}");
        assert_eq!(r.len(), records.len(), "{name}");
        for (i, rec) in r.iter().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(rec).unwrap_or_else(|e| panic!("{name} #{i}: {e}"));
            assert_eq!(v["i"], i, "{name}");
        }
    }
}
