//! What a correlator shared by several workers reads (schema version 6): each alert's event
//! entities stored beside it, read back in store order after a cursor, and where a worker
//! taking the correlation over replays from.

use harrier_alerts::store::{CorrelationStep, Inserted, LinkedAlert, Replay, StoreError};
use harrier_alerts::AlertRecord;

use crate::{alert_row, insert_in, retryable, upsert_incident, PgStore, ALERT_COLUMNS};

/// How far back a replay reaches at most, in windows: an incident kept alive for longer is
/// rebuilt from the alerts of that span only (said in the log).
const MAX_REPLAY_WINDOWS: i64 = 8;

/// Version 6: the entities an alert was raised with (`NULL`: raised without them, by a worker
/// with incidents off or of an older build).
pub(crate) const SCHEMA_V6: &str = "
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS entities TEXT;
";

impl PgStore {
    pub(crate) fn linked_alerts(
        &self,
        after: i64,
        upto: i64,
        since_ns: i64,
        limit: u32,
    ) -> Result<Vec<LinkedAlert>, StoreError> {
        self.query(
            &format!(
                "SELECT {ALERT_COLUMNS}, entities FROM alerts WHERE seq > $1 AND seq <= $2 \
                 AND time_ns >= $3 ORDER BY seq LIMIT $4"
            ),
            &[&after, &upto, &since_ns, &i64::from(limit)],
            |r| LinkedAlert {
                alert: alert_row(r),
                entities: r.get(9),
            },
        )
    }

    pub(crate) fn replay_start(&self, upto: i64, window_ns: i64) -> Result<Replay, StoreError> {
        // The newest event time, ignoring events stamped more than a window ahead of the
        // server's clock (a hostile or broken clock must not push the replay past everything).
        let newest: Option<i64> = self.query_one(
            &format!(
                "SELECT MAX(time_ns) FROM alerts WHERE seq <= $1 AND source <> 'incident' \
                 AND time_ns <= {} + $2",
                crate::SERVER_NOW_NS
            ),
            &[&upto, &window_ns],
            |r| r.get(0),
        )?;
        let Some(newest) = newest else {
            return Ok(Replay {
                after: upto,
                since_ns: i64::MAX,
            });
        };
        let horizon = newest.saturating_sub(window_ns);
        // An incident an alert may still join is replayed from its first alert, so that the
        // rebuilt one keeps its id (that of its first alert) and all of its alerts. A
        // correlator forgets entities a window after they were last seen only at its next
        // sweep, so incidents active up to two windows back may still be joined.
        let first: Option<i64> = self.query_one(
            "SELECT MIN(first_ns) FROM incidents WHERE last_ns >= $1",
            &[&newest.saturating_sub(window_ns.saturating_mul(2))],
            |r| r.get(0),
        )?;
        let floor = newest.saturating_sub(window_ns.saturating_mul(MAX_REPLAY_WINDOWS));
        let since_ns = first.map_or(horizon, |f| f.min(horizon)).max(floor);
        if first.is_some_and(|f| f < floor) {
            tracing::warn!(
                windows = MAX_REPLAY_WINDOWS,
                "an incident active now began more than the replay reaches back: it is rebuilt from its recent alerts"
            );
        }
        let from: Option<i64> = self.query_one(
            "SELECT MIN(seq) FROM alerts WHERE time_ns >= $1 AND seq <= $2",
            &[&since_ns, &upto],
            |r| r.get(0),
        )?;
        Ok(Replay {
            after: from.map_or(upto, |s| s - 1),
            since_ns,
        })
    }

    /// [`harrier_alerts::store::AlertStore::commit_correlation`]: under the task's row lock,
    /// checked to be this worker's.
    pub(crate) fn commit_step(
        &mut self,
        step: &CorrelationStep<'_>,
    ) -> Result<Inserted, StoreError> {
        let &CorrelationStep {
            task,
            seq,
            count,
            notices,
            throttle,
            incidents,
        } = step;
        // Notices in the order every writer shares (see `insert`).
        let mut order: Vec<(&AlertRecord, String)> = notices.iter().map(|a| (a, a.id())).collect();
        order.sort_by(|x, y| (x.0.time_ns, &x.1).cmp(&(y.0.time_ns, &y.1)));
        let (alerts, ids): (Vec<&AlertRecord>, Vec<String>) = order.into_iter().unzip();
        let worker = self.worker.clone();
        let mut attempt = 0;
        loop {
            let r = (|| -> Result<Option<Inserted>, postgres::Error> {
                let mut tx = self.client_mut().transaction()?;
                let held = tx.query_opt(
                    "SELECT 1 FROM deliveries WHERE output = $1 AND holder = $2 FOR UPDATE",
                    &[&task, &worker],
                )?;
                if held.is_none() {
                    return Ok(None);
                }
                let done = insert_in(&mut tx, &alerts, &ids, throttle, None)?;
                for i in incidents {
                    upsert_incident(&mut tx, i)?;
                }
                tx.execute(
                    "UPDATE deliveries SET seq = GREATEST(seq, $2), delivered = delivered + $3 \
                     WHERE output = $1",
                    &[&task, &seq, &(count as i64)],
                )?;
                tx.commit()?;
                Ok(Some(done))
            })();
            match r {
                Err(e) if attempt < 5 && retryable(&e) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << attempt));
                }
                Err(e) => return Err(self.err(e)),
                Ok(None) => {
                    return Err(StoreError {
                        path: self.shown.clone(),
                        source: Box::new(harrier_alerts::store::LeaseLost(task.to_string())),
                    })
                }
                Ok(Some(d)) => return Ok(d),
            }
        }
    }
}
