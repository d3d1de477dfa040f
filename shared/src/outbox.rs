//! The transactional outbox: every message Sweep publishes is first written to `SWEEP_OUTBOX`
//! in the transaction whose change causes it. After commit the writer publishes its own rows
//! and deletes them; [`relay`] publishes whatever a crashed process left behind.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// One message waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Exchange name (already prefixed).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Body (JSON).
    pub payload: Vec<u8>,
    /// `traceparent` of the operation that caused the message, if any.
    pub traceparent: Option<String>,
    /// The payload is a JSON array whose elements are published as separate messages: one
    /// row stands for a job's many events, so the hot path writes and deletes one row, not one
    /// per deleted instance.
    pub split: bool,
}

/// A stored message, with the id to delete once published.
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

/// Writes `messages` in the caller's transaction and returns them with their row ids, in
/// statements of at most [`MAX_STATEMENT_BYTES`] of payload (one for the usual handful).
pub async fn enqueue(txn: &impl ConnectionTrait, messages: Vec<OutboxMessage>) -> Result<Vec<StoredMessage>, DbErr> {
    let mut stored = Vec::with_capacity(messages.len());
    let mut group = Vec::new();
    let mut size = 0;
    for m in messages {
        let len = m.payload.len() + m.exchange.len() + m.routing_key.len() + 128;
        if !group.is_empty() && size + len > MAX_STATEMENT_BYTES {
            stored.extend(insert(txn, std::mem::take(&mut group)).await?);
            size = 0;
        }
        size += len;
        group.push(m);
    }
    if !group.is_empty() {
        stored.extend(insert(txn, group).await?);
    }
    Ok(stored)
}

/// Splits `bodies` into JSON arrays of at most about [`MAX_STATEMENT_BYTES`] each, for
/// [`OutboxMessage::split`] rows.
pub fn split_payloads<T: serde::Serialize>(bodies: &[T]) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    let mut payloads = Vec::new();
    let mut current: Vec<serde_json::Value> = Vec::new();
    let mut size = 0;
    for body in bodies {
        let value = serde_json::to_value(body)?;
        let len = value.to_string().len() + 1;
        if !current.is_empty() && size + len > MAX_STATEMENT_BYTES - 512 {
            payloads.push(serde_json::to_vec(&current)?);
            current.clear();
            size = 0;
        }
        size += len;
        current.push(value);
    }
    if !current.is_empty() {
        payloads.push(serde_json::to_vec(&current)?);
    }
    Ok(payloads)
}

async fn insert(txn: &impl ConnectionTrait, messages: Vec<OutboxMessage>) -> Result<Vec<StoredMessage>, DbErr> {
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
            "INSERT INTO sweep_outbox (exchange_, routing_key_, payload_, headers_)
             SELECT e, k, p, h::jsonb FROM unnest($1::varchar[], $2::varchar[], $3::bytea[], $4::text[])
                 WITH ORDINALITY AS u(e, k, p, h, n)
              ORDER BY n
             RETURNING id_",
            [Value::from(exchanges), Value::from(keys), Value::from(payloads), Value::from(headers)],
        ))
        .await?;
    let mut ids: Vec<i64> = rows.iter().map(|r| r.try_get::<i64>("", "id_")).collect::<Result<_, _>>()?;
    // RETURNING order follows insertion order for a single INSERT … SELECT … ORDER BY.
    ids.sort_unstable();
    Ok(ids.into_iter().zip(messages).map(|(id, message)| StoredMessage { id, message }).collect())
}

/// Deletes published rows.
pub async fn remove(db: &impl ConnectionTrait, ids: &[i64]) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM sweep_outbox WHERE id_ = ANY($1)",
            [Value::from(ids.to_vec())],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// Deletes rows just published, without waiting for the commit to reach disk: if the database
/// loses this commit in a crash, the relay publishes those messages again, which consumers
/// tolerate. Saves a disk flush per publish on the hot path.
pub async fn remove_published(db: &sea_orm::DatabaseConnection, ids: &[i64]) -> Result<u64, DbErr> {
    use sea_orm::TransactionTrait;
    if ids.is_empty() {
        return Ok(0);
    }
    let txn = db.begin().await?;
    txn.execute_unprepared("SET LOCAL synchronous_commit = off").await?;
    let n = remove(&txn, ids).await?;
    txn.commit().await?;
    Ok(n)
}

/// Claims up to `limit` rows older than `min_age_secs` for republishing, locking them so that
/// concurrent relays take different rows. Call inside a transaction; delete what was published
/// before committing.
pub async fn claim_stale(
    txn: &impl ConnectionTrait,
    min_age_secs: f64,
    limit: i64,
) -> Result<Vec<StoredMessage>, DbErr> {
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id_, exchange_, routing_key_, payload_, headers_->>'traceparent' AS traceparent,
                    coalesce((headers_->>'split')::boolean, false) AS split
               FROM sweep_outbox
              WHERE created_ < now() - make_interval(secs => $1)
              ORDER BY id_
              LIMIT $2
                FOR UPDATE SKIP LOCKED",
            [min_age_secs.into(), limit.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredMessage {
                id: r.try_get("", "id_")?,
                message: OutboxMessage {
                    exchange: r.try_get("", "exchange_")?,
                    routing_key: r.try_get("", "routing_key_")?,
                    payload: r.try_get("", "payload_")?,
                    traceparent: r.try_get("", "traceparent")?,
                    split: r.try_get("", "split")?,
                },
            })
        })
        .collect()
}

/// Republishes rows older than `min_age` every `interval` until `stop` is cancelled. Every
/// `sweep-api` and `sweep-worker` process runs one; row locks keep them from sending the same
/// row at the same time (a row may still be sent twice around a crash: consumers are idempotent).
pub async fn run_relay(
    db: sea_orm::DatabaseConnection,
    publisher: std::sync::Arc<crate::mq::Publisher>,
    interval: std::time::Duration,
    min_age: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        match relay_once(&db, &publisher, min_age).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "outbox relay republished messages"),
            Err(e) => tracing::warn!(error = %e, "outbox relay failed; will try again"),
        }
    }
}

/// One relay pass; returns how many messages were published.
pub async fn relay_once(
    db: &sea_orm::DatabaseConnection,
    publisher: &crate::mq::Publisher,
    min_age: std::time::Duration,
) -> Result<usize, crate::Error> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    let rows = claim_stale(&txn, min_age.as_secs_f64(), 500).await?;
    if rows.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    publisher.publish(&rows).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    remove(&txn, &ids).await?;
    txn.commit().await?;
    Ok(rows.len())
}
