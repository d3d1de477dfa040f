//! `migrate` in standalone and attached mode.

use system_tests::TestDb;

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = TestDb::new().await;
    let before = db.scalar("SELECT count(*) FROM sweep_migration").await;
    let one = sea_orm::Database::connect(sea_orm::ConnectOptions::new(db.url.clone()).max_connections(1).to_owned())
        .await
        .unwrap();
    let mode = shared::db::migration::run(&one).await.unwrap();
    assert_eq!(mode, shared::db::migration::Mode::Standalone);
    assert_eq!(db.scalar("SELECT count(*) FROM sweep_migration").await, before);
}
