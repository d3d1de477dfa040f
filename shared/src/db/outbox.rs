//! `SWEEP_OUTBOX`: every message Sweep publishes is first written here, in the transaction
//! whose change causes it, and every statement on that table is in this module.
//!
//! A row is published by one process at a time. Its writer inserts it *claimed* (for
//! `outbox.claim_lease`), publishes it after commit and deletes it. A row whose claim expired
//! — its writer died or could not reach the broker — is claimed by a relay with one short
//! `UPDATE … FOR UPDATE SKIP LOCKED` statement: no transaction stays open while it publishes,
//! and two relays never take the same row. Publishing gives up after `outbox.publish_timeout`,
//! well inside the lease, so a slow publisher never overlaps the next claimant.

use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement, Value,
};
use serde::Serialize;

use crate::messages::WorkMessage;
use crate::mq::Topology;

pub mod packed;

/// One message waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Exchange name (already prefixed; empty for the default exchange).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Body (JSON).
    pub payload: Vec<u8>,
    /// `traceparent` of the operation that caused the message, if any.
    pub traceparent: Option<String>,
    /// The payload holds many messages, each published as a message of its own ([`packed`]):
    /// a few rows stand for a job's many events, so the hot path writes and deletes a few
    /// rows, not one per deleted instance.
    pub split: bool,
}

impl OutboxMessage {
    /// A message for the work exchange. This and the constructors below are the only ways to
    /// build one; each carries a child of the current trace context.
    pub fn work(topology: &Topology, message: &WorkMessage) -> Self {
        Self::to(topology.work_exchange(), message.routing_key().to_owned(), json(message))
    }

    /// A job message that waits in the delay queue of retry `attempt` and then returns to the
    /// work exchange (it goes through the default exchange, straight to that queue).
    pub fn delayed(topology: &Topology, message: &WorkMessage, attempt: usize) -> Self {
        Self::to(String::new(), topology.delay_queue(attempt), json(message))
    }

    /// A job message parked for about `wanted` (see [`Topology::park_queue`]); it then returns
    /// to the work exchange. Returns the row and the delay it will actually wait.
    pub fn parked(
        topology: &Topology,
        message: &WorkMessage,
        wanted: std::time::Duration,
    ) -> (Self, std::time::Duration) {
        let (queue, delay) = topology.park_queue(wanted);
        (Self::to(String::new(), queue, json(message)), delay)
    }

    /// An event for the events exchange.
    pub fn event(topology: &Topology, routing_key: &str, body: &impl Serialize) -> Self {
        Self::to(topology.events_exchange(), routing_key.to_owned(), json(body))
    }

    /// A few rows for many events of one kind, each event published as a message of its own.
    pub fn events<T: Serialize>(topology: &Topology, routing_key: &str, bodies: &[T]) -> Vec<Self> {
        packed::pack(bodies, MAX_STATEMENT_BYTES - 512)
            .into_iter()
            .map(|payload| Self {
                split: true,
                ..Self::to(topology.events_exchange(), routing_key.to_owned(), payload)
            })
            .collect()
    }

    fn to(exchange: String, routing_key: String, payload: Vec<u8>) -> Self {
        Self { exchange, routing_key, payload, traceparent: crate::trace::current_traceparent(), split: false }
    }
}

/// What every writer of outbox rows needs: where messages go, and how long the writer holds
/// the rows it writes before a relay may publish them.
#[derive(Debug, Clone)]
pub struct OutboxWriter {
    /// Exchange and queue names.
    pub topology: Topology,
    /// `outbox.claim_lease`.
    pub lease: Duration,
}

impl OutboxWriter {
    /// A writer for `topology` holding its rows for `lease`.
    pub fn new(topology: Topology, lease: Duration) -> Self {
        Self { topology, lease }
    }

    /// [`OutboxMessage::work`] on this writer's topology.
    pub fn work(&self, message: &WorkMessage) -> OutboxMessage {
        OutboxMessage::work(&self.topology, message)
    }

    /// Job messages for `seqs` of `batch_id`.
    pub fn jobs(&self, batch_id: &str, seqs: &[i32]) -> Vec<OutboxMessage> {
        seqs.iter()
            .map(|&job_seq| {
                self.work(&WorkMessage::DeleteProcessInstancesV1 { batch_id: batch_id.to_owned(), job_seq })
            })
            .collect()
    }

    /// Writes `messages` in `txn`, commits, and returns the committed rows for the caller to
    /// publish (`Publisher::publish_committed`).
    pub async fn commit(
        &self,
        txn: DatabaseTransaction,
        messages: Vec<OutboxMessage>,
    ) -> Result<Vec<StoredMessage>, DbErr> {
        let stored = enqueue(&txn, messages, self.lease).await?;
        txn.commit().await?;
        Ok(stored)
    }
}

/// Sweep's messages and events are plain data: serialising them cannot fail.
fn json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).expect("messages serialise")
}

/// A stored message, with the row id it is deleted by once published; the id also makes up
/// the AMQP `message_id`, the same however often the row is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Row id.
    pub id: i64,
    /// The message.
    pub message: OutboxMessage,
}

/// Bound data per statement. The PostgreSQL driver does not set `TCP_NODELAY`: a statement
/// larger than the socket's send buffer leaves its tail waiting for the server's delayed ACK
/// (40 ms). Statements below this size go out in one segment.
pub const MAX_STATEMENT_BYTES: usize = 8 * 1024;

/// Writes `messages` in the caller's transaction, claimed by the caller for `lease`, and
/// returns them with their row ids, in statements of at most [`MAX_STATEMENT_BYTES`] of
/// payload (one for the usual handful).
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    messages: Vec<OutboxMessage>,
    lease: Duration,
) -> Result<Vec<StoredMessage>, DbErr> {
    let mut stored = Vec::with_capacity(messages.len());
    let mut group = Vec::new();
    let mut size = 0;
    for m in messages {
        let len = m.payload.len() + m.exchange.len() + m.routing_key.len() + 128;
        if !group.is_empty() && size + len > MAX_STATEMENT_BYTES {
            stored.extend(insert(txn, std::mem::take(&mut group), lease).await?);
            size = 0;
        }
        size += len;
        group.push(m);
    }
    if !group.is_empty() {
        stored.extend(insert(txn, group, lease).await?);
    }
    Ok(stored)
}

async fn insert(
    txn: &impl ConnectionTrait,
    messages: Vec<OutboxMessage>,
    lease: Duration,
) -> Result<Vec<StoredMessage>, DbErr> {
    let exchanges: Vec<String> = messages.iter().map(|m| m.exchange.clone()).collect();
    let keys: Vec<String> = messages.iter().map(|m| m.routing_key.clone()).collect();
    let payloads: Vec<Vec<u8>> = messages.iter().map(|m| m.payload.clone()).collect();
    let headers: Vec<String> = messages
        .iter()
        .map(|m| serde_json::json!({ "traceparent": m.traceparent, "split": m.split }).to_string())
        .collect();
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO sweep_outbox (exchange_, routing_key_, payload_, headers_, claimed_until_)
             SELECT e, k, p, h::jsonb, now() + make_interval(secs => $5)
               FROM unnest($1::varchar[], $2::varchar[], $3::bytea[], $4::text[]) WITH ORDINALITY AS u(e, k, p, h, n)
              ORDER BY n
             RETURNING id_",
            [
                Value::from(exchanges),
                Value::from(keys),
                Value::from(payloads),
                Value::from(headers),
                lease.as_secs_f64().into(),
            ],
        ))
        .await?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.try_get::<i64>("", "id_")).collect::<Result<_, _>>()?;
    // RETURNING order follows insertion order for a single INSERT … SELECT … ORDER BY.
    ids.sort_unstable();
    Ok(ids.into_iter().zip(messages).map(|(id, message)| StoredMessage { id, message }).collect())
}

/// Deletes published rows, without waiting for the commit to reach disk: if the database loses
/// this commit in a crash, the relay publishes those messages again, which consumers tolerate.
/// Saves a disk flush per publish on the hot path; the statement turns `synchronous_commit`
/// off for its own transaction, so it takes a single round trip.
pub async fn remove_published(db: &DatabaseConnection, ids: &[i64]) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_outbox
              WHERE id_ = ANY($1) AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL",
            [Value::from(ids.to_vec())],
        ))
        .await?;
    Ok(result.rows_affected())
}

#[derive(FromQueryResult)]
struct OutboxRow {
    id_: i64,
    exchange_: String,
    routing_key_: String,
    payload_: Vec<u8>,
    traceparent: Option<String>,
    split: bool,
}

/// Claims up to `limit` rows whose claim has expired, for `lease`, in one statement of its own
/// (no transaction is left open); concurrent relays take different rows.
pub async fn claim_expired(db: &DatabaseConnection, lease: Duration, limit: i64) -> Result<Vec<StoredMessage>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            include_str!("outbox/claim_expired.sql"),
            [lease.as_secs_f64().into(), limit.into()],
        ))
        .await?;
    let mut stored: Vec<StoredMessage> = rows
        .iter()
        .map(|row| {
            let r = OutboxRow::from_query_result(row, "")?;
            Ok(StoredMessage {
                id: r.id_,
                message: OutboxMessage {
                    exchange: r.exchange_,
                    routing_key: r.routing_key_,
                    payload: r.payload_,
                    traceparent: r.traceparent,
                    split: r.split,
                },
            })
        })
        .collect::<Result<_, DbErr>>()?;
    stored.sort_unstable_by_key(|s| s.id);
    Ok(stored)
}

/// How the outbox looks, for its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, FromQueryResult)]
pub struct Backlog {
    /// Rows waiting to be published.
    pub rows: i64,
    /// Age of the oldest, in seconds (0 when empty).
    pub oldest_age_seconds: f64,
}

/// Rows pending and the age of the oldest.
pub async fn backlog(db: &impl ConnectionTrait) -> Result<Backlog, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS rows,
                    coalesce(extract(epoch FROM now() - (SELECT created_ FROM sweep_outbox ORDER BY id_ LIMIT 1)), 0)::float8
                        AS oldest_age_seconds
               FROM sweep_outbox",
        ))
        .await?;
    row.map_or(Ok(Backlog::default()), |r| Backlog::from_query_result(&r, ""))
}
