//! The rpm database in its SQLite form (`var/lib/rpm/rpmdb.sqlite`, `usr/lib/sysimage/rpm/...`,
//! RHEL 9, Fedora 33+, SUSE): each row of `Packages` is an rpm header blob, read here with every
//! offset checked. (The older Berkeley DB form is not read.)

use crate::catalog::Package;

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;

fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

/// The fields of one header blob: (name, `[epoch:]version-release`, source rpm name).
pub fn parse_header(blob: &[u8]) -> Option<(String, String, Option<String>)> {
    let il = usize::try_from(be32(blob, 0)?).ok()?;
    let dl = usize::try_from(be32(blob, 4)?).ok()?;
    if il > 100_000 {
        return None;
    }
    let data_start = 8usize.checked_add(il.checked_mul(16)?)?;
    let data = blob.get(data_start..data_start.checked_add(dl)?)?;
    let mut name = None;
    let mut version = None;
    let mut release = None;
    let mut epoch = None;
    let mut srpm = None;
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, off) = (
            be32(blob, e)?,
            be32(blob, e + 4)?,
            usize::try_from(be32(blob, e + 8)?).ok()?,
        );
        let string = || -> Option<String> {
            let s = data.get(off..)?;
            let end = s.iter().position(|c| *c == 0)?;
            Some(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        match (tag, ty) {
            (NAME, TYPE_STRING) => name = string(),
            (VERSION, TYPE_STRING) => version = string(),
            (RELEASE, TYPE_STRING) => release = string(),
            (SOURCERPM, TYPE_STRING) => srpm = string(),
            (EPOCH, TYPE_INT32) => epoch = be32(data, off),
            _ => {}
        }
    }
    let mut v = format!("{}-{}", version?, release?);
    if let Some(e) = epoch.filter(|e| *e > 0) {
        v = format!("{e}:{v}");
    }
    // openssl-libs comes from openssl-3.0.7-24.el9.src.rpm: strip "-version-release.src.rpm".
    let source = srpm.and_then(|s| {
        let s = s.strip_suffix(".src.rpm")?;
        let (rest, _rel) = s.rsplit_once('-')?;
        let (n, _ver) = rest.rsplit_once('-')?;
        Some(n.to_string())
    });
    Some((name?, v, source))
}

/// Packages of an rpmdb.sqlite held in memory (written to a private temporary file for SQLite).
pub fn parse_sqlite(bytes: &[u8], location: &str, layer: usize) -> Result<Vec<Package>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let p = dir.path().join("rpmdb.sqlite");
    std::fs::write(&p, bytes).map_err(|e| e.to_string())?;
    let conn =
        rusqlite::Connection::open_with_flags(&p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| e.to_string())?;
    // The file comes from the image: `Packages` must be a real table (a view could be an
    // endless recursive query), and rows are capped.
    let is_table: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'Packages'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n == 1)
        .map_err(|e| e.to_string())?;
    if !is_table {
        return Err("no Packages table".into());
    }
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages LIMIT 200000")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for blob in rows {
        let blob = blob.map_err(|e| e.to_string())?;
        if let Some((name, version, source)) = parse_header(&blob) {
            if name == "gpg-pubkey" {
                continue; // imported signing keys, not software
            }
            out.push(Package {
                source: source.unwrap_or_else(|| name.clone()),
                source_version: version.clone(),
                name,
                version,
                kind: "rpm",
                location: location.to_string(),
                layer,
            });
        }
    }
    Ok(out)
}

/// Test helper: an rpm header blob with these string tags (and an epoch when not 0).
#[doc(hidden)]
pub fn fake_header(name: &str, epoch: u32, version: &str, release: &str, srpm: &str) -> Vec<u8> {
    let mut data = Vec::new();
    let mut entries: Vec<(u32, u32, u32)> = Vec::new();
    for (tag, s) in [
        (NAME, name),
        (VERSION, version),
        (RELEASE, release),
        (SOURCERPM, srpm),
    ] {
        entries.push((tag, TYPE_STRING, data.len() as u32));
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    if epoch > 0 {
        while !data.len().is_multiple_of(4) {
            data.push(0);
        }
        entries.push((EPOCH, TYPE_INT32, data.len() as u32));
        data.extend_from_slice(&epoch.to_be_bytes());
    }
    let mut b = Vec::new();
    b.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (tag, ty, off) in entries {
        b.extend_from_slice(&tag.to_be_bytes());
        b.extend_from_slice(&ty.to_be_bytes());
        b.extend_from_slice(&off.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
    }
    b.extend_from_slice(&data);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_hostile_blobs() {
        let h = fake_header(
            "openssl-libs",
            1,
            "3.0.7",
            "24.el9",
            "openssl-3.0.7-24.el9.src.rpm",
        );
        assert_eq!(
            parse_header(&h),
            Some((
                "openssl-libs".into(),
                "1:3.0.7-24.el9".into(),
                Some("openssl".into())
            ))
        );
        let mut cut = h.clone();
        cut.truncate(h.len() - 5);
        assert!(
            parse_header(&cut).is_none(),
            "data region shorter than declared"
        );
        let mut huge = h.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&huge).is_none());
        assert!(parse_header(b"\0\0").is_none());
    }

    #[test]
    fn an_rpmdb_sqlite() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("rpmdb.sqlite");
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        for (n, e, v, r, s) in [
            ("bash", 0, "5.1.8", "6.el9", "bash-5.1.8-6.el9.src.rpm"),
            (
                "openssl-libs",
                1,
                "3.0.7",
                "24.el9",
                "openssl-3.0.7-24.el9.src.rpm",
            ),
            ("gpg-pubkey", 0, "fd431d51", "4ae0493b", ""),
        ] {
            c.execute(
                "INSERT INTO Packages (blob) VALUES (?1)",
                [fake_header(n, e, v, r, s)],
            )
            .unwrap();
        }
        c.execute("INSERT INTO Packages (blob) VALUES (?1)", [vec![1u8, 2, 3]])
            .unwrap();
        drop(c);
        let pk = parse_sqlite(&std::fs::read(&p).unwrap(), "var/lib/rpm/rpmdb.sqlite", 0).unwrap();
        let got: Vec<(&str, &str, &str)> = pk
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("bash", "5.1.8-6.el9", "bash"),
                ("openssl-libs", "1:3.0.7-24.el9", "openssl")
            ]
        );
        assert!(parse_sqlite(b"not a database", "x", 0).is_err());
        // A view named Packages (which could recurse forever) is refused.
        let v = d.path().join("view.sqlite");
        let c = rusqlite::Connection::open(&v).unwrap();
        c.execute_batch("CREATE VIEW Packages AS WITH RECURSIVE r(blob) AS (SELECT x'00' UNION ALL SELECT blob FROM r) SELECT blob FROM r;").unwrap();
        drop(c);
        assert_eq!(
            parse_sqlite(&std::fs::read(&v).unwrap(), "x", 0).unwrap_err(),
            "no Packages table"
        );
    }
}
