//! One function per `sweep` subcommand.

use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::events::{self, Event, Notice};
use super::http::{Api, ApiFailure, Credentials, encode};
use super::output::{self, Style};
use super::{CancelArgs, Cli, Command, DeleteArgs, Format, IdsSource, ItemsArgs, ManifestArgs, Outcome, SteerArgs};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let credentials = Credentials::resolve(cli.user, cli.token)?;
    let api = Api::new(&cli.url, credentials)?;
    let format = cli.output;
    match cli.command {
        Command::Delete(args) => delete(&api, format, args).await,
        Command::Batches => batches(&api, format).await,
        Command::Batch(arg) => describe(&api, format, &arg.id).await,
        Command::Watch(arg) => watch(&api, format, &arg.id).await,
        Command::Suspend(arg) => suspend(&api, format, &arg.id, true).await,
        Command::Resume(arg) => suspend(&api, format, &arg.id, false).await,
        Command::Steer(args) => steer(&api, format, &args).await,
        Command::Cancel(args) => cancel(&api, format, &args).await,
        Command::RetryFailed(arg) => retry_failed(&api, format, &arg.id).await,
        Command::Items(args) => items(&api, format, &args).await,
        Command::Manifest(args) => manifest(&api, &args).await,
    }
}

fn int(value: &Value, key: &str) -> i64 {
    value.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// One batch as `batches`, `batch` and the end of `delete`/`watch` show it (`-o json`: these
/// fields, camelCase; `null` where the API does not know).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchView {
    id: String,
    /// `pending` (no job started), `running`, `suspended`, `failed` (only failed jobs left),
    /// `completed` or `cancelled` (ended with instances not processed).
    state: String,
    suspended: bool,
    create_user_id: Option<String>,
    start_time: Option<String>,
    execution_start_time: Option<String>,
    end_time: Option<String>,
    total_jobs: Option<i64>,
    completed_jobs: Option<i64>,
    failed_jobs: Option<i64>,
    total_instances: i64,
    pending_instances: i64,
    running_instances: i64,
    deleted_instances: i64,
    skipped_instances: i64,
    failed_instances: i64,
    /// Instances processed per second since the first job started (runtime batches).
    instances_per_second: Option<f64>,
    /// `batch` and the end of `delete`/`watch` only: up to 100 failed instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_items: Option<Vec<FailedItem>>,
}

/// A failed instance and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct FailedItem {
    process_instance_id: String,
    reason: Option<String>,
}

/// How many failed items `batch` shows.
const FAILED_ITEMS_SHOWN: u64 = 100;

impl BatchView {
    /// From a `BatchStatisticsDto` of a runtime batch.
    fn from_statistics(s: &Value) -> Self {
        let suspended = s.get("suspended").and_then(Value::as_bool).unwrap_or(false);
        let failed_jobs = int(s, "failedJobs");
        let remaining_jobs = int(s, "remainingJobs");
        let execution_start_time = text(s, "executionStartTime");
        let state = if suspended {
            "suspended"
        } else if failed_jobs > 0 && failed_jobs >= remaining_jobs {
            "failed"
        } else if execution_start_time.is_some() {
            "running"
        } else {
            "pending"
        };
        let processed = int(s, "deletedInstances") + int(s, "skippedInstances") + int(s, "failedInstances");
        let instances_per_second =
            execution_start_time.as_deref().and_then(shared::camunda::parse_date).and_then(|started| {
                let seconds =
                    (chrono::Utc::now() - started.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0;
                (state == "running" && seconds > 0.5).then(|| processed as f64 / seconds)
            });
        Self {
            id: text(s, "id").unwrap_or_default(),
            state: state.to_owned(),
            suspended,
            create_user_id: text(s, "createUserId"),
            start_time: text(s, "startTime"),
            execution_start_time,
            end_time: None,
            total_jobs: Some(int(s, "totalJobs")),
            completed_jobs: Some(int(s, "completedJobs")),
            failed_jobs: Some(failed_jobs),
            total_instances: int(s, "totalInstances"),
            pending_instances: int(s, "pendingInstances"),
            running_instances: int(s, "runningInstances"),
            deleted_instances: int(s, "deletedInstances"),
            skipped_instances: int(s, "skippedInstances"),
            failed_instances: int(s, "failedInstances"),
            instances_per_second,
            failed_items: None,
        }
    }

    fn processed(&self) -> i64 {
        self.deleted_instances + self.skipped_instances + self.failed_instances
    }
}

/// The batch `id`, running or ended, with up to [`FAILED_ITEMS_SHOWN`] failed items.
async fn load(api: &Api, id: &str) -> anyhow::Result<BatchView> {
    let enc = encode(id);
    let statistics = api.get(&format!("/batch/statistics?batchId={enc}")).await?;
    let mut view = match statistics.as_array().and_then(|a| a.first()) {
        Some(s) => BatchView::from_statistics(s),
        None => {
            let historic = api.get(&format!("/history/batch/{enc}")).await.map_err(|e| match e.status() {
                Some(reqwest::StatusCode::NOT_FOUND) => ApiFailure::Status {
                    status: reqwest::StatusCode::NOT_FOUND,
                    message: format!("Batch with id '{id}' does not exist"),
                },
                _ => e,
            })?;
            let count = |state: &'static str| {
                let path = format!("/batch/{enc}/items/count?state={state}");
                async move { api.get(&path).await.map(|v| int(&v, "count")) }
            };
            let (pending, deleted, skipped, failed) =
                tokio::try_join!(count("pending"), count("deleted"), count("skipped"), count("failed"))?;
            // An ended batch runs nothing: what its jobs did not reach stays pending.
            let running = 0;
            let state = if pending > 0 { "cancelled" } else { "completed" };
            BatchView {
                id: text(&historic, "id").unwrap_or_else(|| id.to_owned()),
                state: state.to_owned(),
                suspended: false,
                create_user_id: text(&historic, "createUserId"),
                start_time: text(&historic, "startTime"),
                execution_start_time: text(&historic, "executionStartTime"),
                end_time: text(&historic, "endTime"),
                total_jobs: historic.get("totalJobs").and_then(Value::as_i64),
                completed_jobs: None,
                failed_jobs: None,
                total_instances: pending + running + deleted + skipped + failed,
                pending_instances: pending,
                running_instances: running,
                deleted_instances: deleted,
                skipped_instances: skipped,
                failed_instances: failed,
                instances_per_second: None,
                failed_items: None,
            }
        }
    };
    let failed = if view.failed_instances > 0 {
        api.get(&format!("/batch/{enc}/items?state=failed&maxResults={FAILED_ITEMS_SHOWN}")).await?
    } else {
        Value::Array(Vec::new())
    };
    view.failed_items = Some(
        failed
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| FailedItem {
                process_instance_id: text(i, "processInstanceId").unwrap_or_default(),
                reason: text(i, "reason"),
            })
            .collect(),
    );
    Ok(view)
}

// ---------------------------------------------------------------------------------------------
// batches, batch, items

async fn batches(api: &Api, format: Format) -> anyhow::Result<Outcome> {
    let list = api.get("/batch/statistics?sortBy=startTime&sortOrder=desc").await?;
    let views: Vec<BatchView> = list.as_array().into_iter().flatten().map(BatchView::from_statistics).collect();
    if format == Format::Json {
        output::json(&views)?;
        return Ok(Outcome::Done);
    }
    if views.is_empty() {
        println!("No running batches.");
        return Ok(Outcome::Done);
    }
    let style = Style::stdout();
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.id.clone(),
                style.state(&v.state),
                format!(
                    "{}/{} ({})",
                    v.processed(),
                    v.total_instances,
                    output::percent(v.processed(), v.total_instances)
                ),
                output::rate(v.instances_per_second),
                output::ago(v.start_time.as_deref()),
                v.create_user_id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!("{}", output::table(&["id", "state", "progress", "rate", "started", "user"], &rows));
    Ok(Outcome::Done)
}

fn print_card(view: &BatchView) {
    let style = Style::stdout();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let with_age = |v: &Option<String>| match v {
        Some(t) => format!("{t} ({})", output::ago(Some(t))),
        None => "-".into(),
    };
    let jobs = match (view.total_jobs, view.completed_jobs, view.failed_jobs) {
        (Some(total), Some(done), Some(failed)) => format!("{done}/{total} done, {failed} failed"),
        (Some(total), _, _) => format!("{total}"),
        _ => "-".into(),
    };
    let mut fields = vec![
        ("Batch", view.id.clone()),
        ("State", style.state(&view.state)),
        ("Created by", opt(&view.create_user_id)),
        ("Started", with_age(&view.start_time)),
        ("First job", opt(&view.execution_start_time)),
        ("Ended", opt(&view.end_time)),
        ("Jobs", jobs),
        (
            "Instances",
            format!(
                "{}/{} processed ({}): {} deleted, {} skipped, {} failed, {} running, {} pending",
                view.processed(),
                view.total_instances,
                output::percent(view.processed(), view.total_instances),
                view.deleted_instances,
                view.skipped_instances,
                view.failed_instances,
                view.running_instances,
                view.pending_instances
            ),
        ),
    ];
    if view.instances_per_second.is_some() {
        fields.push(("Rate", output::rate(view.instances_per_second)));
    }
    print!("{}", output::card(style, &fields));
    let failed = view.failed_items.as_deref().unwrap_or_default();
    if !failed.is_empty() {
        println!("{}", style.bold("Failed instances:"));
        let rows: Vec<Vec<String>> = failed
            .iter()
            .map(|f| vec![f.process_instance_id.clone(), f.reason.clone().unwrap_or_else(|| "-".into())])
            .collect();
        for line in output::table(&["process instance", "reason"], &rows).lines() {
            println!("  {line}");
        }
        if view.failed_instances > failed.len() as i64 {
            println!(
                "  … {} more: sweep items {} --state failed",
                view.failed_instances - failed.len() as i64,
                view.id
            );
        }
    }
}

async fn describe(api: &Api, format: Format, id: &str) -> anyhow::Result<Outcome> {
    let view = load(api, id).await?;
    match format {
        Format::Json => output::json(&view)?,
        Format::Text => print_card(&view),
    }
    Ok(Outcome::Done)
}

/// Copies the manifest's body to stdout or a file chunk by chunk, as it arrives, so a manifest
/// of millions of lines never sits in memory. The file is written only once the answer is a
/// success.
async fn manifest(api: &Api, args: &ManifestArgs) -> anyhow::Result<Outcome> {
    let accept = if args.csv { "text/csv" } else { "application/x-ndjson" };
    let request = api.request(Method::GET, &format!("/batch/{}/manifest", encode(&args.id))).header("Accept", accept);
    let mut response = api.send(request).await?;
    let mut out: Box<dyn Write> = match &args.file {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    while let Some(chunk) =
        response.chunk().await.map_err(|e| anyhow::anyhow!("reading the manifest: {}", super::http::describe(&e)))?
    {
        out.write_all(&chunk).context("writing the manifest")?;
    }
    out.flush().context("writing the manifest")?;
    Ok(Outcome::Done)
}

async fn items(api: &Api, format: Format, args: &ItemsArgs) -> anyhow::Result<Outcome> {
    const PAGE: u64 = 1000;
    let mut all: Vec<Value> = Vec::new();
    let state = args.state.map(|s| format!("&state={}", s.as_str())).unwrap_or_default();
    loop {
        let want = args.limit.map_or(PAGE, |limit| PAGE.min(limit - all.len() as u64));
        if want == 0 {
            break;
        }
        let path = format!("/batch/{}/items?firstResult={}&maxResults={want}{state}", encode(&args.id), all.len());
        let page = api.get(&path).await?;
        let page = page.as_array().cloned().unwrap_or_default();
        let got = page.len() as u64;
        all.extend(page);
        if got < want {
            break;
        }
    }
    if format == Format::Json {
        output::json(&all)?;
        return Ok(Outcome::Done);
    }
    if all.is_empty() {
        println!("No items.");
        return Ok(Outcome::Done);
    }
    let style = Style::stdout();
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|i| {
            vec![
                int(i, "seq").to_string(),
                text(i, "processInstanceId").unwrap_or_default(),
                style.state(&text(i, "state").unwrap_or_default()),
                text(i, "reason").unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!("{}", output::table(&["seq", "process instance", "state", "reason"], &rows));
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------------------------------------
// suspend, resume, cancel, retry-failed

async fn suspend(api: &Api, format: Format, id: &str, suspended: bool) -> anyhow::Result<Outcome> {
    let request =
        api.request(Method::PUT, &format!("/batch/{}/suspended", encode(id))).json(&json!({"suspended": suspended}));
    api.json(request).await?;
    match format {
        Format::Json => output::json(&json!({"id": id, "suspended": suspended}))?,
        Format::Text if suspended => println!("Batch {id} suspended; resume it with: sweep resume {id}"),
        Format::Text => println!("Batch {id} resumed; follow it with: sweep watch {id}"),
    }
    Ok(Outcome::Done)
}

/// The `PATCH /batch/{id}` body of `sweep steer`; the API validates the values.
fn steering_body(args: &SteerArgs) -> anyhow::Result<Value> {
    let number = |name: &str, value: &str, none: &str| -> anyhow::Result<Value> {
        if value == none {
            return Ok(Value::Null);
        }
        let n: f64 =
            value.parse().map_err(|_| anyhow::anyhow!("--{name} takes a number or '{none}', not '{value}'"))?;
        Ok(if n.fract() == 0.0 && n.abs() < 9e15 { json!(n as i64) } else { json!(n) })
    };
    let mut body = serde_json::Map::new();
    if let Some(v) = &args.rate {
        body.insert("maxInstancesPerSecond".into(), number("rate", v, "unlimited")?);
    }
    if let Some(v) = &args.max_jobs {
        body.insert("maxConcurrentJobs".into(), number("max-jobs", v, "unlimited")?);
    }
    if let Some(v) = &args.priority {
        body.insert("priority".into(), number("priority", v, "default")?);
    }
    if let Some(v) = &args.window {
        let window = if v == "always" {
            Value::Null
        } else {
            let parsed = v.split_once('/').and_then(|(times, zone)| Some((times.split_once('-')?, zone)));
            let Some(((start, end), zone)) = parsed else {
                anyhow::bail!("--window takes HH:MM-HH:MM/Area/City (e.g. 01:00-05:00/Europe/Berlin) or 'always'");
            };
            json!({"start": start, "end": end, "timeZone": zone})
        };
        body.insert("runWindow".into(), window);
    }
    if body.is_empty() {
        anyhow::bail!("nothing to change: give --rate, --max-jobs, --priority or --window");
    }
    Ok(Value::Object(body))
}

async fn steer(api: &Api, format: Format, args: &SteerArgs) -> anyhow::Result<Outcome> {
    let body = steering_body(args)?;
    let id = &args.id;
    let batch = api.json(api.request(Method::PATCH, &format!("/batch/{}", encode(id))).json(&body)).await?;
    match format {
        Format::Json => output::json(&batch)?,
        Format::Text => {
            let limit =
                |key: &str| batch.get(key).filter(|v| !v.is_null()).map_or("unlimited".to_owned(), Value::to_string);
            let window = batch.get("runWindow").filter(|w| w.is_object()).map_or("always".to_owned(), |w| {
                format!(
                    "{}-{} {}",
                    text(w, "start").unwrap_or_default(),
                    text(w, "end").unwrap_or_default(),
                    text(w, "timeZone").unwrap_or_default()
                )
            });
            let waiting = batch.get("waitingForWindow").and_then(Value::as_bool).unwrap_or(false);
            println!(
                "Batch {id}: priority {}, {} instances/s, {} jobs at once, run window {window}{}",
                int(&batch, "priority"),
                limit("maxInstancesPerSecond"),
                limit("maxConcurrentJobs"),
                if waiting { " (waiting for it)" } else { "" }
            );
        }
    }
    Ok(Outcome::Done)
}

async fn cancel(api: &Api, format: Format, args: &CancelArgs) -> anyhow::Result<Outcome> {
    let id = &args.id;
    api.json(api.request(Method::DELETE, &format!("/batch/{}?cascade={}", encode(id), args.cascade))).await?;
    match format {
        Format::Json => output::json(&json!({"id": id, "cancelled": true, "cascade": args.cascade}))?,
        Format::Text if args.cascade => {
            println!("Batch {id} cancelled and its history removed; instances not deleted yet stay.")
        }
        Format::Text => {
            println!("Batch {id} cancelled; instances not deleted yet stay. Its history is kept: sweep batch {id}")
        }
    }
    Ok(Outcome::Done)
}

async fn retry_failed(api: &Api, format: Format, id: &str) -> anyhow::Result<Outcome> {
    let result = api.json(api.request(Method::POST, &format!("/batch/{}/retry-failed-items", encode(id)))).await?;
    match format {
        Format::Json => output::json(&result)?,
        Format::Text => println!(
            "Retrying {} failed instances in {} jobs of batch {id}; follow it with: sweep watch {id}",
            int(&result, "retriedItems"),
            int(&result, "retriedJobs")
        ),
    }
    Ok(Outcome::Done)
}

// ---------------------------------------------------------------------------------------------
// delete

fn read_ids(source: &IdsSource) -> anyhow::Result<Vec<String>> {
    let lines = |text: &str| -> Vec<String> {
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
    };
    let ids = match source {
        IdsSource::List(ids) => ids.clone(),
        IdsSource::File(path) => {
            lines(&std::fs::read_to_string(path).with_context(|| format!("reading ids from {}", path.display()))?)
        }
        IdsSource::Stdin => {
            let mut text = String::new();
            for line in std::io::stdin().lock().lines() {
                text.push_str(&line.context("reading ids from stdin")?);
                text.push('\n');
            }
            lines(&text)
        }
    };
    anyhow::ensure!(!ids.is_empty(), "--ids: no process-instance id given");
    Ok(ids)
}

fn request_body(args: &DeleteArgs) -> anyhow::Result<Value> {
    let mut body = serde_json::Map::new();
    if let Some(ids) = &args.ids {
        body.insert("processInstanceIds".into(), json!(read_ids(ids)?));
    }
    if let Some(query) = &args.query {
        body.insert("processInstanceQuery".into(), query.clone());
    }
    if let Some(query) = &args.historic_query {
        body.insert("historicProcessInstanceQuery".into(), query.clone());
    }
    if let Some(reason) = &args.reason {
        body.insert("deleteReason".into(), json!(reason));
    }
    body.insert("skipSubprocesses".into(), json!(args.skip_subprocesses));
    body.insert("skipCustomListeners".into(), json!(args.skip_custom_listeners));
    body.insert("failIfNotExists".into(), json!(args.fail_if_not_exists));
    Ok(Value::Object(body))
}

/// How many ids of the dry run's sample the text preview shows.
const SAMPLE_SHOWN: usize = 3;

fn print_preview(preview: &Value) {
    let style = Style::stdout();
    let instances = int(preview, "instances");
    let called = int(preview, "calledInstances");
    let also = if called > 0 { format!(", and {called} instances they call") } else { String::new() };
    println!("{}", style.bold(&format!("Would delete {instances} process instances{also}.")));
    if let Some(keys) = preview.get("byProcessDefinitionKey").and_then(Value::as_object) {
        let mut keys: Vec<(&String, i64)> = keys.iter().map(|(k, v)| (k, v.as_i64().unwrap_or(0))).collect();
        keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let rows: Vec<Vec<String>> = keys.iter().map(|(k, n)| vec![(*k).clone(), n.to_string()]).collect();
        println!();
        for line in output::table(&["process definition key", "instances"], &rows).lines() {
            println!("  {line}");
        }
    }
    let sample: Vec<&str> =
        preview.get("sample").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !sample.is_empty() {
        // A few ids are enough to recognise the selection; `-o json` has the whole sample.
        let more = if instances > SAMPLE_SHOWN as i64 { ", …" } else { "" };
        println!();
        println!("Sample: {}{more}", sample[..sample.len().min(SAMPLE_SHOWN)].join(", "));
    }
    let eta = match preview.get("etaSeconds").and_then(Value::as_f64) {
        Some(s) => format!("about {}", output::duration(s)),
        None => "no estimate yet (no recent throughput)".to_owned(),
    };
    println!("Jobs: {}   Estimated time: {eta}", int(preview, "totalJobs"));
}

/// Asks on the terminal; without one, refuses (the caller must pass `--yes`).
fn confirm(instances: i64) -> anyhow::Result<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        output::error("no terminal to confirm on: pass --yes to delete without asking. Nothing was deleted.");
        return Ok(false);
    }
    eprint!("{} ", Style::stderr().bold(&format!("Delete {instances} process instances? [y/N]")));
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).context("reading the answer")?;
    let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        eprintln!("Nothing was deleted.");
    }
    Ok(yes)
}

async fn dry_run(api: &Api, body: &Value) -> anyhow::Result<Value> {
    let preview = api.json(api.request(Method::POST, "/process-instance/delete?dryRun=true").json(body)).await?;
    if preview.get("instances").is_none() {
        // An API without dry runs ignores the parameter and creates the batch: stop it at once.
        if let Some(id) = preview.get("id").and_then(Value::as_str) {
            let stopped = api.json(api.request(Method::DELETE, &format!("/batch/{}", encode(id)))).await;
            anyhow::bail!(
                "{} does not support dry runs and created batch {id} instead; {}",
                api.base(),
                match stopped {
                    Ok(_) => format!("it was cancelled at once (see: sweep batch {id})"),
                    Err(e) => format!("cancelling it failed ({e}): run sweep cancel {id}"),
                }
            );
        }
        anyhow::bail!("unexpected answer to the dry run: {preview}");
    }
    Ok(preview)
}

async fn submit(api: &Api, body: &Value) -> anyhow::Result<Value> {
    // The same key on every attempt: a retry after a lost answer returns the same batch.
    let key = uuid::Uuid::new_v4().to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = api.request(Method::POST, "/process-instance/delete").header("Idempotency-Key", &key).json(body);
        match api.json(request).await {
            Ok(batch) => return Ok(batch),
            Err(e) if e.is_transient() && attempt < 4 => {
                output::error(&format!("{e}; trying again (attempt {} of 4)", attempt + 1));
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn delete(api: &Api, format: Format, args: DeleteArgs) -> anyhow::Result<Outcome> {
    let body = request_body(&args)?;
    let preview = dry_run(api, &body).await?;
    if format == Format::Text {
        print_preview(&preview);
    }
    if args.dry_run {
        if format == Format::Json {
            output::json(&json!({"preview": preview}))?;
        } else {
            println!("Dry run: nothing was deleted.");
        }
        return Ok(Outcome::Done);
    }
    if int(&preview, "instances") == 0 {
        match format {
            Format::Json => output::json(&json!({"preview": preview}))?,
            Format::Text => println!("Nothing to delete."),
        }
        return Ok(Outcome::Done);
    }
    if !args.yes && !confirm(int(&preview, "instances"))? {
        return Ok(Outcome::Refused);
    }
    let batch = submit(api, &body).await?;
    let id = text(&batch, "id").context("the API answered a batch without an id")?;
    if args.no_wait {
        match format {
            Format::Json => output::json(&json!({"preview": preview, "batch": batch}))?,
            Format::Text => {
                println!("Batch {id} created: {} jobs.", int(&batch, "totalJobs"));
                println!("Follow it with: sweep watch {id}");
            }
        }
        return Ok(Outcome::Done);
    }
    if format == Format::Text {
        println!("Batch {id} created; following it (Ctrl-C stops following, not the batch).");
    }
    let (outcome, result) = follow(api, format, &id, false).await?;
    if format == Format::Json {
        output::json(&json!({"preview": preview, "batch": batch, "result": result}))?;
    }
    Ok(outcome)
}

// ---------------------------------------------------------------------------------------------
// watch: following a batch

async fn watch(api: &Api, format: Format, id: &str) -> anyhow::Result<Outcome> {
    let (outcome, result) = follow(api, format, id, true).await?;
    if format == Format::Json
        && let Some(result) = result
    {
        output::json_line(&json!({"event": "result", "data": result}))?;
    }
    Ok(outcome)
}

/// How the progress shows: a bar on a terminal, a line every few seconds otherwise, nothing
/// for `-o json` (unless `watch`, which prints every event as a JSON line).
enum Display {
    Bar(ProgressBar),
    Lines { last: Option<Instant> },
    JsonLines,
    Quiet,
}

/// How often progress lines are written without a terminal.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Display {
    fn new(format: Format, event_lines: bool) -> Self {
        match format {
            Format::Json if event_lines => Display::JsonLines,
            Format::Json => Display::Quiet,
            Format::Text if std::io::stderr().is_terminal() => {
                let template = if output::colours_allowed() {
                    "{spinner:.green} {elapsed_precise} [{bar:40.cyan/blue}] {pos}/{len} {msg}"
                } else {
                    "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} {msg}"
                };
                let style = ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
                bar.set_message("connecting…");
                bar.enable_steady_tick(Duration::from_millis(120));
                Display::Bar(bar)
            }
            Format::Text => Display::Lines { last: None },
        }
    }

    fn progress(&mut self, event: &Event) {
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let processed = int(&data, "deletedInstances") + int(&data, "skippedInstances") + int(&data, "failedInstances");
        let total = int(&data, "totalInstances");
        let rate = output::rate(data.get("instancesPerSecond").and_then(Value::as_f64));
        let eta = data.get("etaSeconds").and_then(Value::as_f64).map_or_else(|| "-".to_owned(), output::duration);
        let suspended = data.get("suspended").and_then(Value::as_bool).unwrap_or(false);
        let status = if suspended {
            format!("suspended (sweep resume {})", text(&data, "id").unwrap_or_default())
        } else {
            format!("{rate}  ETA {eta}")
        };
        let message = format!(
            "instances  {status}  failed {}  jobs {}/{}",
            int(&data, "failedInstances"),
            int(&data, "completedJobs"),
            int(&data, "totalJobs")
        );
        match self {
            Display::Bar(bar) => {
                bar.set_length(total.max(0) as u64);
                bar.set_position(processed.max(0) as u64);
                bar.set_message(message);
            }
            Display::Lines { last } => {
                if last.is_none_or(|at| at.elapsed() >= LINE_INTERVAL) {
                    *last = Some(Instant::now());
                    eprintln!("{processed}/{total} {message}");
                }
            }
            Display::JsonLines | Display::Quiet => {}
        }
    }

    fn event(&mut self, event: &Event) {
        if let Display::JsonLines = self {
            let data: Value = serde_json::from_str(&event.data).unwrap_or_else(|_| Value::String(event.data.clone()));
            // Errors writing to stdout surface at the final write.
            let _ = output::json_line(&json!({"event": event.name, "id": event.id, "data": data}));
            return;
        }
        if event.name == "progress" || event.is_final() {
            self.progress(event);
        }
    }

    fn reconnecting(&mut self, why: &str) {
        match self {
            Display::Bar(bar) => bar.set_message(format!("connection lost ({why}); reconnecting…")),
            Display::Lines { .. } => eprintln!("connection lost ({why}); reconnecting…"),
            Display::JsonLines | Display::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.abandon();
        }
    }
}

/// Follows batch `id` to its end (or Ctrl-C), prints the outcome in text mode and answers the
/// exit outcome with the ended batch (`None` when interrupted).
async fn follow(
    api: &Api,
    format: Format,
    id: &str,
    event_lines: bool,
) -> anyhow::Result<(Outcome, Option<BatchView>)> {
    let mut display = Display::new(format, event_lines);
    let started = Instant::now();
    let followed = {
        let following = events::follow(api, id, |notice| match notice {
            Notice::Event(event) => display.event(event),
            Notice::Reconnecting(why) => display.reconnecting(why),
        });
        tokio::select! {
            result = following => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    display.finish();
    let final_event = match followed {
        Some(result) => result?,
        None => {
            let style = Style::stderr();
            eprintln!();
            eprintln!("{}", style.yellow(&format!("Stopped following batch {id}; the batch goes on.")));
            eprintln!("Resume with: sweep watch {id}");
            return Ok((Outcome::Interrupted, None));
        }
    };
    let mut view = load(api, id).await?;
    let outcome = match final_event.name.as_str() {
        "completed" if view.failed_instances == 0 => Outcome::Done,
        "completed" | "failed" => Outcome::FailedItems,
        _ => Outcome::Refused,
    };
    view.state = match final_event.name.as_str() {
        "completed" => "completed",
        "failed" => "failed",
        _ => "cancelled",
    }
    .to_owned();
    if format == Format::Text {
        let style = Style::stdout();
        let took = output::duration(started.elapsed().as_secs_f64());
        let counts = format!(
            "{} deleted, {} skipped, {} failed",
            view.deleted_instances, view.skipped_instances, view.failed_instances
        );
        match outcome {
            Outcome::Done => println!("{} {counts} ({took}).", style.green(&format!("Batch {id} completed:"))),
            Outcome::FailedItems => {
                println!("{} {counts} ({took}).", style.red(&format!("Batch {id} ended with failed instances:")));
                for item in view.failed_items.iter().flatten().take(10) {
                    println!("  {}  {}", item.process_instance_id, item.reason.as_deref().unwrap_or("-"));
                }
                println!("See them all: sweep items {id} --state failed");
                if final_event.name == "failed" {
                    println!("Retry them:   sweep retry-failed {id}");
                }
            }
            _ => println!(
                "{} {counts}; {} not processed.",
                style.red(&format!("Batch {id} was cancelled:")),
                view.pending_instances + view.running_instances
            ),
        }
    }
    Ok((outcome, Some(view)))
}
