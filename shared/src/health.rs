//! Readiness, as both binaries answer `/health/ready`: the database answers, its schema is the
//! one this binary expects, and the broker connection is up. Liveness checks nothing: a
//! dependency's outage must not make Kubernetes restart healthy processes.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the readiness checks concurrently; returns one line per failure (empty when ready).
pub async fn readiness(db: &DatabaseConnection, amqp: &deadpool_lapin::Pool) -> Vec<String> {
    let database = async {
        match tokio::time::timeout(CHECK_TIMEOUT, db.execute_unprepared("SELECT 1")).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("database: unavailable: {e}")),
            Err(_) => return Err(format!("database: no answer within {CHECK_TIMEOUT:?}")),
        }
        match tokio::time::timeout(CHECK_TIMEOUT, crate::db::migration::check_current(db)).await {
            Ok(result) => result,
            Err(_) => Err(format!("schema: no answer within {CHECK_TIMEOUT:?}")),
        }
    };
    let broker = async {
        match tokio::time::timeout(CHECK_TIMEOUT, amqp.get()).await {
            Ok(Ok(conn)) if conn.status().connected() => Ok(()),
            Ok(Ok(_)) => Err("broker: connection not open".to_owned()),
            Ok(Err(e)) => Err(format!("broker: unavailable: {e}")),
            Err(_) => Err(format!("broker: no connection within {CHECK_TIMEOUT:?}")),
        }
    };
    let (database, broker) = tokio::join!(database, broker);
    [database, broker].into_iter().filter_map(Result::err).collect()
}
