//! What a correlator shared by several workers reads (schema version 6): each alert's event
//! entities stored beside it, read back in store order after a cursor, and where a worker
//! taking the correlation over replays from.

use harrier_alerts::store::{LinkedAlert, Replay, StoreError};

use crate::{alert_row, PgStore, ALERT_COLUMNS};

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
        let newest: Option<i64> = self.query_one(
            "SELECT MAX(time_ns) FROM alerts WHERE seq <= $1 AND source <> 'incident'",
            &[&upto],
            |r| r.get(0),
        )?;
        let Some(newest) = newest else {
            return Ok(Replay {
                after: upto,
                since_ns: i64::MAX,
            });
        };
        let horizon = newest.saturating_sub(window_ns);
        // An incident active in the window is replayed from its first alert, so that the
        // rebuilt one keeps its id (that of its first alert) and all of its alerts.
        let first: Option<i64> = self.query_one(
            "SELECT MIN(first_ns) FROM incidents WHERE last_ns >= $1",
            &[&horizon],
            |r| r.get(0),
        )?;
        let since_ns = first.map_or(horizon, |f| f.min(horizon));
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
}
