//! The outbox: a row is published by one process at a time — its writer while the claim
//! lease runs, then exactly one relay — no transaction stays open while publishing, and every
//! message keeps its `message_id` however often its row is published.

use std::time::Duration;

use lapin::options::BasicGetOptions;
use sea_orm::TransactionTrait;
use shared::db::outbox::{self, OutboxWriter};
use shared::messages::{ROUTE_JOB, WorkMessage};
use shared::mq::relay::relay_once;
use system_tests::{TestDb, eventually};

/// Settings, a publisher and a writer on a fresh prefix with its topology declared.
async fn setup(db: &TestDb, lease: &str) -> (shared::Settings, std::sync::Arc<shared::mq::Publisher>, OutboxWriter) {
    let settings = db.settings(&[("SWEEP__OUTBOX__CLAIM_LEASE", lease), ("SWEEP__OUTBOX__PUBLISH_TIMEOUT", "1s")]);
    let (_pool, publisher, topology) = shared::mq::setup::connect_and_declare(&settings, "test").await.unwrap();
    let writer = OutboxWriter::new(topology, settings.outbox.claim_lease);
    (settings, publisher, writer)
}

/// Commits `n` job messages the way a handler does, then "crashes": nobody publishes them.
async fn commit_unpublished(db: &TestDb, writer: &OutboxWriter, n: i32) -> Vec<i64> {
    let txn = db.db.begin().await.unwrap();
    let messages = writer.jobs("b", &(1..=n).collect::<Vec<_>>());
    writer.commit(txn, messages).await.unwrap().iter().map(|m| m.id).collect()
}

/// Message ids (and job numbers) waiting in the job queue, taken off it.
async fn take_jobs(settings: &shared::Settings, writer: &OutboxWriter) -> Vec<(String, i32)> {
    let conn = lapin::Connection::connect(&settings.amqp.url, Default::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(m) =
        channel.basic_get(writer.topology.queue(ROUTE_JOB).into(), BasicGetOptions { no_ack: true }).await.unwrap()
    {
        let id = m.delivery.properties.message_id().as_ref().map(|s| s.to_string()).unwrap_or_default();
        let WorkMessage::DeleteProcessInstancesV1 { job_seq, .. } = serde_json::from_slice(&m.delivery.data).unwrap()
        else {
            panic!("a job message")
        };
        out.push((id, job_seq));
    }
    out
}

#[tokio::test]
async fn a_row_its_writer_holds_is_left_alone_until_the_lease_expires_then_published_once() {
    let db = TestDb::new().await;
    let (settings, publisher, writer) = setup(&db, "2s").await;
    let ids = commit_unpublished(&db, &writer, 1).await;

    // While the writer's lease runs, a relay leaves the row to it.
    assert_eq!(relay_once(&db.db, &publisher, &settings.outbox).await.unwrap(), 0);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 1);

    // Once it expired, one relay pass publishes it and removes the row; the next finds nothing.
    let published = eventually(Duration::from_secs(10), || async {
        let n = relay_once(&db.db, &publisher, &settings.outbox).await.unwrap();
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(published, 1);
    assert_eq!(relay_once(&db.db, &publisher, &settings.outbox).await.unwrap(), 0);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 0);
    assert_eq!(take_jobs(&settings, &writer).await, vec![(format!("{}.0", ids[0]), 1)]);
}

#[tokio::test]
async fn concurrent_relays_publish_each_expired_row_exactly_once() {
    let db = TestDb::new().await;
    let (settings, publisher, writer) = setup(&db, "2s").await;
    let (_, second, _) = setup(&db, "2s").await;
    let ids = commit_unpublished(&db, &writer, 300).await;
    // Leases run out at once: both relays race for the same rows.
    db.exec("UPDATE sweep_outbox SET claimed_until_ = now() - interval '1 second'").await;

    let (a, b) =
        tokio::join!(relay_once(&db.db, &publisher, &settings.outbox), relay_once(&db.db, &second, &settings.outbox));
    assert_eq!(a.unwrap() + b.unwrap(), 300);
    let mut got = take_jobs(&settings, &writer).await;
    got.sort_by_key(|(_, seq)| *seq);
    let expected: Vec<(String, i32)> = ids.iter().zip(1..).map(|(id, seq)| (format!("{id}.0"), seq)).collect();
    assert_eq!(got, expected, "each row published once, with its own stable message id");
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox").await, 0);
}

#[tokio::test]
async fn a_relay_facing_a_broker_outage_holds_no_transaction_or_lock_and_loses_nothing() {
    let db = TestDb::new().await;
    let (settings, publisher, writer) = setup(&db, "3s").await;
    commit_unpublished(&db, &writer, 3).await;
    db.exec("UPDATE sweep_outbox SET claimed_until_ = now() - interval '1 second'").await;

    // A publisher whose broker is down: nothing listens on port 1.
    let down =
        shared::settings::AmqpSettings { url: "amqp://guest:guest@127.0.0.1:1/%2f".into(), ..settings.amqp.clone() };
    let unreachable = shared::mq::Publisher::new(shared::mq::pool(&down, "test").unwrap(), Duration::from_secs(1));
    assert!(relay_once(&db.db, &unreachable, &settings.outbox).await.is_err());

    // Nothing is left open or locked, and the rows stay, claimed for a lease by the failed relay.
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state LIKE 'idle in transaction%'",
            db.name
        ))
        .await,
        0
    );
    db.exec("BEGIN; SELECT * FROM sweep_outbox FOR UPDATE NOWAIT; COMMIT;").await;
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_outbox WHERE claimed_until_ > now()").await, 3);
    // Another relay does not take them before that lease ends; then one does, and all arrive.
    assert_eq!(relay_once(&db.db, &publisher, &settings.outbox).await.unwrap(), 0);
    eventually(Duration::from_secs(10), || async {
        (relay_once(&db.db, &publisher, &settings.outbox).await.unwrap() == 3).then_some(())
    })
    .await;
    assert_eq!(take_jobs(&settings, &writer).await.len(), 3);
    assert_eq!(outbox::backlog(&db.db).await.unwrap().rows, 0);
}
