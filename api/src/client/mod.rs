//! `sweep`: the operator's command line for Sweep. It talks to a Sweep API over HTTP only (the
//! Camunda REST API and Sweep's extensions), like any other REST caller.
//!
//! - [`http`]: the HTTP client (credentials, Camunda error bodies turned into one-line errors);
//! - [`events`]: following a batch through `GET /batch/{id}/events` (server-sent events),
//!   reconnecting with `Last-Event-ID`;
//! - [`output`]: tables, cards, colours and the `-o json` shapes;
//! - [`commands`]: one function per subcommand.
//!
//! Exit codes: 0 done, 1 refused or failed, 2 usage (clap's), 3 the batch ended with failed
//! instances, 130 interrupted while following (the batch goes on).

mod commands;
mod events;
mod http;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Command line of `sweep`.
#[derive(Debug, Parser)]
#[command(
    name = "sweep",
    version,
    about = "Delete process instances in bulk through a Sweep API, and watch and control its batches.",
    after_help = "Credentials: --user (or SWEEP_USER) with the password in SWEEP_PASSWORD (asked for on a terminal \
                  when unset), or a bearer token in --token / SWEEP_TOKEN.\n\
                  Exit codes: 0 done, 1 refused or failed, 2 usage, 3 the batch ended with failed instances, \
                  130 interrupted while following (the batch goes on)."
)]
pub struct Cli {
    /// Base URL of the API, engine path included.
    #[arg(long, global = true, env = "SWEEP_URL", default_value = "http://127.0.0.1:8080/engine-rest")]
    pub url: String,
    /// User for HTTP Basic authentication; the password comes from SWEEP_PASSWORD, or is asked
    /// for on a terminal.
    #[arg(long, global = true, env = "SWEEP_USER", conflicts_with = "token")]
    pub user: Option<String>,
    /// Bearer token (`auth.mode = oidc`), instead of a user.
    #[arg(long, global = true, env = "SWEEP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format: `text` for people, `json` for scripts (stable shapes, see the README).
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned tables, cards and a progress bar on a terminal.
    Text,
    /// One JSON document on stdout (`watch`: one JSON object per line).
    Json,
}

/// Subcommands of `sweep`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preview a deletion, confirm it, submit it and follow the batch until it ends.
    Delete(DeleteArgs),
    /// List the running batches.
    Batches,
    /// Describe one batch, running or ended, with its failed instances.
    Batch(IdArg),
    /// Follow a batch with a progress bar until it ends.
    Watch(IdArg),
    /// Suspend a batch: workers leave its remaining jobs alone.
    Suspend(IdArg),
    /// Resume a suspended batch.
    Resume(IdArg),
    /// Change a running batch's limits live (`PATCH /batch/{id}`); options not given stay.
    Steer(SteerArgs),
    /// Stop a batch (`DELETE /batch/{id}`): instances not deleted yet stay; its history is kept.
    Cancel(CancelArgs),
    /// Retry the failed instances of a batch.
    RetryFailed(IdArg),
    /// List the instances of a batch and their outcomes.
    Items(ItemsArgs),
    /// Write every instance of a batch with its outcome (NDJSON, or CSV with `--csv`),
    /// streamed as the API sends it.
    Manifest(ManifestArgs),
}

/// Options of `sweep manifest`.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// The batch id.
    pub id: String,
    /// CSV (`id,state,reason`) instead of NDJSON.
    #[arg(long)]
    pub csv: bool,
    /// Write to this file instead of stdout (`-o` is the global output format).
    #[arg(short = 'f', long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// A batch id.
#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// The batch id.
    pub id: String,
}

/// Options of `sweep steer`.
#[derive(Debug, Clone, Args)]
pub struct SteerArgs {
    /// The batch id.
    pub id: String,
    /// Instances per second over all workers, or `unlimited`.
    #[arg(long, value_name = "N|unlimited")]
    pub rate: Option<String>,
    /// Jobs of the batch running at once, or `unlimited`.
    #[arg(long, value_name = "N|unlimited")]
    pub max_jobs: Option<String>,
    /// Priority (larger is more urgent), or `default`.
    #[arg(long, value_name = "N|default", allow_hyphen_values = true)]
    pub priority: Option<String>,
    /// Daily run window `HH:MM-HH:MM/Area/City` (e.g. `01:00-05:00/Europe/Berlin`), or `always`.
    #[arg(long, value_name = "WINDOW|always")]
    pub window: Option<String>,
}

/// Options of `sweep cancel`.
#[derive(Debug, Clone, Args)]
pub struct CancelArgs {
    /// The batch id.
    pub id: String,
    /// Also remove the historic batch and its item ledger (Camunda's `cascade=true`).
    #[arg(long)]
    pub cascade: bool,
}

/// Item states of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ItemState {
    /// Not processed yet.
    Pending,
    /// Deleted.
    Deleted,
    /// Not found (`failIfNotExists = false`).
    Skipped,
    /// Failed, with a reason.
    Failed,
}

impl ItemState {
    fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Deleted => "deleted",
            ItemState::Skipped => "skipped",
            ItemState::Failed => "failed",
        }
    }
}

/// Options of `sweep items`.
#[derive(Debug, Clone, Args)]
pub struct ItemsArgs {
    /// The batch id.
    pub id: String,
    /// Only items in this state.
    #[arg(long, value_enum)]
    pub state: Option<ItemState>,
    /// At most this many items (default: all).
    #[arg(long)]
    pub limit: Option<u64>,
}

/// Where process-instance ids come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdsSource {
    /// `--ids a,b,c`
    List(Vec<String>),
    /// `--ids @file`: one id per line.
    File(PathBuf),
    /// `--ids -` (or `@-`): one id per line on stdin.
    Stdin,
}

fn parse_ids(value: &str) -> Result<IdsSource, String> {
    match value {
        "-" | "@-" => Ok(IdsSource::Stdin),
        v if v.starts_with('@') => Ok(IdsSource::File(PathBuf::from(&v[1..]))),
        v => {
            let ids: Vec<String> = v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            if ids.is_empty() { Err("no process-instance id given".into()) } else { Ok(IdsSource::List(ids)) }
        }
    }
}

/// A JSON object given inline or as `@file`.
fn parse_json_object(value: &str) -> Result<serde_json::Value, String> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
        None => value.to_owned(),
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    if json.is_object() { Ok(json) } else { Err("expected a JSON object".into()) }
}

/// Options of `sweep delete`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("selection").required(true).multiple(true).args(["query", "historic_query", "ids"])))]
pub struct DeleteArgs {
    /// A `processInstanceQuery` (Camunda's ProcessInstanceQueryDto), inline JSON or `@file`.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_json_object)]
    pub query: Option<serde_json::Value>,
    /// A `historicProcessInstanceQuery`, inline JSON or `@file`; only instances still running
    /// are selected.
    #[arg(long, value_name = "JSON|@FILE", value_parser = parse_json_object)]
    pub historic_query: Option<serde_json::Value>,
    /// Process-instance ids: `id,id,…`, `@file` (one per line) or `-` (one per line on stdin).
    #[arg(long, value_name = "IDS|@FILE|-", value_parser = parse_ids)]
    pub ids: Option<IdsSource>,
    /// Delete reason written to history.
    #[arg(long)]
    pub reason: Option<String>,
    /// Leave the instances the selected ones call alone.
    #[arg(long)]
    pub skip_subprocesses: bool,
    /// Publish no `process-instance.deleted` events.
    #[arg(long)]
    pub skip_custom_listeners: bool,
    /// Refuse the whole request when an explicit id does not exist (otherwise such ids are
    /// skipped).
    #[arg(long)]
    pub fail_if_not_exists: bool,
    /// Delete without asking (required without a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Stop after the preview: nothing is submitted.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Submit, print the batch and exit without following it.
    #[arg(long)]
    pub no_wait: bool,
}

/// The outcome of a command, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0
    Done,
    /// 1: refused by the user's answer or by a missing `--yes`, or failed.
    Refused,
    /// 3: the batch ended with failed instances.
    FailedItems,
    /// 130: Ctrl-C while following.
    Interrupted,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(match outcome {
            Outcome::Done => 0,
            Outcome::Refused => 1,
            Outcome::FailedItems => 3,
            Outcome::Interrupted => 130,
        })
    }
}

/// The entry point of `sweep` (and of its test build): parses the command line, runs the
/// command and turns every error into one line on stderr and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(&format!("cannot start: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            output::error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ids_parse_as_lists_files_and_stdin() {
        assert_eq!(parse_ids("a, b,,c"), Ok(IdsSource::List(vec!["a".into(), "b".into(), "c".into()])));
        assert_eq!(parse_ids("@ids.txt"), Ok(IdsSource::File("ids.txt".into())));
        assert_eq!(parse_ids("-"), Ok(IdsSource::Stdin));
        assert!(parse_ids(",").is_err());
    }

    #[test]
    fn queries_must_be_json_objects() {
        assert!(parse_json_object(r#"{"processDefinitionKey":"p"}"#).is_ok());
        assert!(parse_json_object("[1]").is_err());
        assert!(parse_json_object("{").is_err());
    }

    #[test]
    fn a_deletion_needs_a_selection() {
        let err = Cli::try_parse_from(["sweep", "delete", "--yes"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(Cli::try_parse_from(["sweep", "delete", "--ids", "a"]).is_ok());
    }
}
