//! The `sweep-api` command line and its one-shot subcommands (`migrate`, `generate`).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Sweep's HTTP API: Camunda 7 compatible bulk deletion of process instances.
#[derive(Debug, Parser)]
#[command(name = "sweep-api", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands of `sweep-api`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API on `http.bind` (the default).
    Serve,
    /// Create or check the database schema, then exit. Safe to run repeatedly and concurrently.
    Migrate,
    /// Insert realistic demo process instances, then exit.
    Generate(GenerateArgs),
    /// Manage users in Camunda's identity tables.
    #[command(subcommand)]
    User(UserCommand),
}

/// `sweep-api user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (or set its password), reading the password from stdin, in Camunda's
    /// format; groups and tenants are created when missing.
    Add(UserArgs),
}

/// Options of `sweep-api user add`.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// The user id.
    pub name: String,
    /// A group to add the user to (repeatable), e.g. `camunda-admin`.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// A tenant to add the user to (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
}

/// Options of `sweep-api generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Number of root process instances to create.
    #[arg(long, default_value_t = 10_000)]
    pub instances: u64,
    /// Number of process definitions they are spread over.
    #[arg(long, default_value_t = 5)]
    pub definitions: u32,
    /// Number of tenants (0: no tenant ids).
    #[arg(long, default_value_t = 2)]
    pub tenants: u32,
    /// Share of root instances that call a sub-process instance (0.0–1.0); a third of those
    /// calls go two levels deep.
    #[arg(long, default_value_t = 0.2)]
    pub call_share: f64,
    /// Share of instances that are suspended (0.0–1.0).
    #[arg(long, default_value_t = 0.05)]
    pub suspended_share: f64,
    /// Share of instances with an open incident (0.0–1.0).
    #[arg(long, default_value_t = 0.05)]
    pub incident_share: f64,
    /// Share of instances waiting on an external task (0.0–1.0).
    #[arg(long, default_value_t = 0.3)]
    pub external_task_share: f64,
    /// Random seed: the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Instances start within the 90 days before this date (YYYY-MM-DD, 00:00 UTC; default:
    /// today). Pin it to reproduce the same data on another day.
    #[arg(long)]
    pub until: Option<chrono::NaiveDate>,
}

/// The process entry point: parses the command line, loads settings, initialises telemetry and
/// runs the chosen subcommand on a multi-threaded runtime.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = shared::Settings::load().context("loading settings")?;
    shared::telemetry::init("sweep-api", &settings.telemetry);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let listener = tokio::net::TcpListener::bind(settings.http.bind)
                    .await
                    .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
                crate::run(settings, listener, crate::shutdown_signal()).await.context("serving")
            }
            Command::Migrate => migrate(&settings).await,
            Command::Generate(args) => generate(&settings, &args).await,
            Command::User(UserCommand::Add(args)) => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password).context("reading the password from stdin")?;
                add_user(&settings, &args, password.trim_end_matches(['\r', '\n'])).await
            }
        }
    });
    // Outside the runtime: the last spans are exported before the process ends.
    shared::telemetry::shutdown();
    result
}

/// `sweep-api migrate`
pub async fn migrate(settings: &shared::Settings) -> anyhow::Result<()> {
    // One connection is enough: the whole migration runs in one transaction.
    let db =
        shared::db::connect_with(&settings.database, "sweep-migrate", 1).await.context("connecting to database.url")?;
    let mode = shared::db::migration::run(&db).await.context("migrating")?;
    println!("migrated ({mode:?} mode)");
    Ok(())
}

/// `sweep-api generate`
pub async fn generate(settings: &shared::Settings, args: &GenerateArgs) -> anyhow::Result<()> {
    let db = shared::db::connect(&settings.database, "sweep-generate").await.context("connecting to database.url")?;
    let options = shared::demo::GenerateOptions {
        instances: args.instances,
        definitions: args.definitions,
        tenants: args.tenants,
        call_share: args.call_share,
        suspended_share: args.suspended_share,
        incident_share: args.incident_share,
        external_task_share: args.external_task_share,
        seed: args.seed,
        until: args.until,
    };
    let report = shared::demo::generate(&db, &options).await.context("generating demo data")?;
    println!("{report}");
    Ok(())
}

/// `sweep-api user add`
pub async fn add_user(settings: &shared::Settings, args: &UserArgs, password: &str) -> anyhow::Result<()> {
    use sea_orm::TransactionTrait;
    anyhow::ensure!(!password.is_empty(), "the password (read from stdin) is empty");
    anyhow::ensure!(!args.name.is_empty() && args.name.len() <= 64, "the user id must have 1 to 64 characters");
    let db =
        shared::db::connect_with(&settings.database, "sweep-user", 1).await.context("connecting to database.url")?;
    let txn = db.begin().await?;
    shared::db::identity::upsert_user(&txn, &args.name, password, &args.groups, &args.tenants)
        .await
        .context("writing the user")?;
    txn.commit().await?;
    println!("user '{}' saved", args.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
