//! `sweep-api`: parses the command line, loads settings, initialises telemetry and hands over
//! to the library. `serve` (the default) runs the HTTP API; `migrate` prepares the database;
//! `generate` fills it with demo process instances.

use anyhow::Context;
use clap::Parser;

use api::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = shared::Settings::load().context("loading settings")?;
    shared::telemetry::init("sweep-api", &settings.telemetry);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.http.bind)
                .await
                .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
            api::run(settings, listener, api::shutdown_signal()).await.context("serving")
        }
        Command::Migrate => api::cli::migrate(&settings).await,
        Command::Generate(args) => api::cli::generate(&settings, &args).await,
    }
}
