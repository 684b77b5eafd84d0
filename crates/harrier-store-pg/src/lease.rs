//! Leases: one worker at a time delivers an output (or runs the incident correlation), holding
//! its row of `deliveries` until it stops, or dies and [`LEASE`] runs out on the server's clock.

use postgres::Client;

use crate::tls::Target;
use crate::{PgStore, StoreError, LEASE, SERVER_NOW_NS};

/// Renews one connection's leases while it lives.
pub(crate) struct Keeper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keeper {
    pub(crate) fn start(target: Target, worker: String) -> Keeper {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut client: Option<Client> = None;
            let sql = format!(
                "UPDATE deliveries SET lease_until = {SERVER_NOW_NS} + $2 WHERE holder = $1"
            );
            let lease = LEASE.as_nanos() as i64;
            while !flag.load(Ordering::Relaxed) {
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    client = target.connect().ok();
                }
                if let Some(c) = client.as_mut() {
                    if let Err(e) = c.execute(sql.as_str(), &[&worker, &lease]) {
                        tracing::warn!(error = %e, "store: cannot renew output leases");
                    }
                }
                // A third of the lease, in steps that notice a stop.
                for _ in 0..(LEASE.as_millis() / 3 / 100) {
                    if flag.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        });
        Keeper {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PgStore {
    /// Stops renewing and releases this connection's leases, so another worker takes over at
    /// once.
    fn drop(&mut self) {
        let held = self
            .keeper
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut k) = held {
            k.stop();
            let worker = self.worker.clone();
            let c = self.client.get_mut().unwrap_or_else(|p| p.into_inner());
            if !c.is_closed() {
                let _ = c.execute(
                    "UPDATE deliveries SET holder = NULL, lease_until = 0 WHERE holder = $1",
                    &[&worker],
                );
            }
        }
    }
}

impl PgStore {
    /// Stops renewing this connection's leases without releasing them, as if its process had
    /// died: for tests of a takeover.
    #[doc(hidden)]
    pub fn stop_renewing(&self) {
        if let Some(mut k) = self.keeper.lock().unwrap_or_else(|p| p.into_inner()).take() {
            k.stop();
        }
    }
}

impl PgStore {
    /// Takes `output`'s lease (free, ours, or run out) or renews it, and returns its cursor;
    /// `None` while another worker holds it. Holding one starts this connection's renewals.
    pub(crate) fn take_lease(&self, output: &str) -> Result<Option<i64>, StoreError> {
        let lease = LEASE.as_nanos() as i64;
        let Some(after) = self.query_opt(
            &format!(
                "UPDATE deliveries SET holder = $2, lease_until = {SERVER_NOW_NS} + $3 \
                 WHERE output = $1 AND (holder IS NULL OR holder = $2 OR lease_until < {SERVER_NOW_NS}) \
                 RETURNING seq"
            ),
            &[&output, &self.worker, &lease],
            |r| r.get::<_, i64>(0),
        )?
        else {
            return Ok(None);
        };
        let mut k = self.keeper.lock().unwrap_or_else(|p| p.into_inner());
        if k.is_none() {
            *k = Some(Keeper::start(self.target.clone(), self.worker.clone()));
        }
        Ok(Some(after))
    }
}
