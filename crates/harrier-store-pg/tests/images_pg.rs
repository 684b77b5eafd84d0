//! Image results on PostgreSQL against a real server: the same contract as the SQLite
//! `images.db`, and a scan queue several workers share without scanning one push twice.

#[path = "support/pg_server.rs"]
mod pg_server;
use pg_server::Server;

use harrier_store_pg::PgStore;
use harrier_supply::results::{contract, ImageResults};

#[test]
fn postgres_meets_the_image_results_contract() {
    let Some(s) = Server::start() else { return };
    let mut n = 0;
    contract::run_all(&mut || {
        n += 1;
        Box::new(PgStore::connect(&s.database(&format!("images_{n}"))).unwrap())
    });
    assert_eq!(n, 3, "every check ran on a fresh database");
}

/// Two workers take pushes from one queue: each push is claimed by one of them; what a worker
/// claimed and did not finish goes to the other once the claim runs out (its holder died), and
/// a finished push never comes back.
#[test]
fn workers_claim_pushes_so_none_is_scanned_twice() {
    let Some(s) = Server::start() else { return };
    let url = s.database("queue");
    let (a, b) = (
        PgStore::connect(&url).unwrap(),
        PgStore::connect(&url).unwrap(),
    );
    for (i, c) in ['a', 'b', 'c'].into_iter().enumerate() {
        assert!(a
            .enqueue(&contract::push(&format!("e{i}"), c, i as i64))
            .unwrap());
    }
    // The same push told to the other worker (a replay): queued once.
    assert!(!b.enqueue(&contract::push("e0", 'a', 0)).unwrap());
    let took_a = a.pending(2).unwrap();
    let ids = |q: &[harrier_supply::results::Queued]| -> Vec<String> {
        q.iter().map(|q| q.push.event_id.clone()).collect()
    };
    assert_eq!(ids(&took_a), ["e0", "e1"], "oldest first");
    assert_eq!(ids(&b.pending(10).unwrap()), ["e2"], "not what a holds");
    assert_eq!(a.depth().unwrap(), 3, "claimed pushes still wait");
    a.finish(took_a[0].seq, None, 3).unwrap();
    // a dies holding e1: once its claim has run out, b takes it over.
    assert!(
        !ids(&b.pending(10).unwrap()).contains(&"e1".to_string()),
        "not before the claim runs out"
    );
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.execute(
        "UPDATE image_pushes SET claimed_until = 0 WHERE event_id = 'e1'",
        &[],
    )
    .unwrap();
    assert_eq!(ids(&b.pending(10).unwrap()), ["e1", "e2"]);
    // a comes back and finishes e1 late: b holds it now, so nothing changes.
    a.finish(took_a[1].seq, None, 3).unwrap();
    assert_eq!(a.depth().unwrap(), 2, "a stale holder cannot finish a push");
    // A failed attempt returns the push to the queue for anyone; done never comes back.
    b.finish(took_a[1].seq, Some("registry down"), 3).unwrap();
    assert_eq!(a.depth().unwrap(), 2);
    assert!(!ids(&a.pending(10).unwrap()).contains(&"e0".to_string()));
}
