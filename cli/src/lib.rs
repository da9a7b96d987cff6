//! `wekactl-aws`: the operator's console for a deployment of this control plane — what it is
//! doing (`status`, `progress`), what it would do next and why (`plan`), stopping it for a while
//! (`pause`, `resume`), what it decided (`events`) and a live view (`watch`).
//!
//! Layers: `args` (the command line) → `console` and `watch` (the commands, on `ports` only) →
//! `ports` ← `aws` (the SDK); `deployment` finds the deployment; `render` draws text.

pub mod args;
pub mod aws;
pub mod console;
pub mod deployment;
pub mod ports;
pub mod render;
pub mod watch;

use std::io::{IsTerminal, Write};

use args::{Cli, Command};
use console::{Console, ConsoleError, EventFilter, Exit, Group};
use watch::WatchOptions;
use weka_shared::adapters::dynamo::DynamoStateStore;

/// Runs the command line on AWS; the exit code.
pub async fn run(cli: Cli) -> Exit {
    match run_on_aws(&cli).await {
        Ok(exit) => exit,
        Err(e) => {
            let exit = e.exit();
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"error": e.to_string(), "exit": exit.code()})
                );
            }
            eprintln!("wekactl-aws: {e}");
            exit
        }
    }
}

async fn run_on_aws(cli: &Cli) -> Result<Exit, ConsoleError> {
    let outputs = deployment::read_outputs(&cli.outputs_source())?;
    let deployment = deployment::resolve(&outputs, &cli.overrides())?;
    let config = aws::sdk_config(deployment.region.as_deref()).await;
    let console = Console {
        status: aws::LambdaStatus::new(&config, deployment.status_function.clone()),
        pause: deployment
            .state
            .clone()
            .map(|state| DynamoStateStore::new(aws_sdk_dynamodb::Client::new(&config), state)),
        identity: aws::StsIdentity::new(&config),
        group: if cli.nfs { Group::Nfs } else { Group::Backend },
    };
    let stdout = std::io::stdout();
    let redraw = stdout.is_terminal();
    execute(&console, cli, &mut stdout.lock(), redraw).await
}

/// Runs `cli`'s command on `console`, writing to `out`.
pub async fn execute<F, P, I, W>(
    console: &Console<F, P, I>,
    cli: &Cli,
    out: &mut W,
    terminal: bool,
) -> Result<Exit, ConsoleError>
where
    F: ports::StatusFunction,
    P: ports::PauseSwitch,
    I: ports::CallerIdentity,
    W: Write,
{
    let answer = match &cli.command {
        Command::Status => console.status().await?.0,
        Command::Progress => console.progress().await?.0,
        Command::Plan => console.plan().await?.0,
        Command::Events { kind, since, limit } => {
            // A window longer than the calendar reaches back to everything kept.
            let since = since.and_then(|d| {
                chrono::TimeDelta::from_std(d)
                    .ok()
                    .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
            });
            let filter = EventFilter {
                kind: *kind,
                since,
                limit: *limit,
            };
            console.events(&filter).await?
        }
        Command::Pause { reason, by } => {
            console
                .pause(reason, by.as_deref(), chrono::Utc::now())
                .await?
        }
        Command::Resume => console.resume().await?,
        Command::Watch {
            until,
            interval,
            timeout,
            max_failures,
        } => {
            let options = WatchOptions {
                goal: (*until).into(),
                interval: *interval,
                timeout: *timeout,
                max_failures: (*max_failures).max(1),
                json: cli.json,
                redraw: terminal && !cli.json,
            };
            return watch::watch(console, &options, out).await;
        }
    };
    if cli.json {
        writeln!(out, "{}", answer.json)?;
    } else {
        write!(out, "{}", answer.text)?;
    }
    Ok(Exit::Ok)
}
