//! `weka-sim`: `serve` runs the simulator on loopback; `cli` is the `weka` command shim;
//! `shim` writes a `weka` script that execs the shim.

use std::process::ExitCode;
use weka_sim::cli::{CliOutput, CliRequest};
use weka_sim::{SimClock, SimConfig, World};

const USAGE: &str = "usage:
  weka-sim serve [--port N] [--port-file PATH] [--time-factor F]
                 [--deactivate-secs S] [--drive-deactivate-secs S] [--remove-secs S]
      JSON-RPC at http://127.0.0.1:<port>/<ip>/api/v1, control API under /_sim/.
      --time-factor: simulated seconds per real second (0 = only /_sim/clock/advance moves time;
      default 1). Prints the port; stops on SIGTERM (default disposition).
  weka-sim cli -- <weka args...>
      Runs a weka CLI command against the simulator: env WEKA_SIM_URL (http://127.0.0.1:<port>),
      WEKA_SIM_IP (this machine's private IP), optional WEKA_SIM_INSTANCE_ID and HOSTNAME.
  weka-sim shim PATH
      Writes an executable `weka` script at PATH that runs `<this binary> cli -- \"$@\"`.";

/// Command-line failures.
#[derive(Debug, thiserror::Error)]
enum MainError {
    #[error("{0}\n{USAGE}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("weka-sim server at {url}: {message}")]
    Server { url: String, message: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> MainError {
    let what = what.into();
    move |source| MainError::Io { what, source }
}

fn env(name: &str) -> Result<String, MainError> {
    std::env::var(name).map_err(|_| MainError::Usage(format!("{name} is not set")))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]).await.map(|()| ExitCode::SUCCESS),
        Some("cli") => cli(&args[1..]).await,
        Some("shim") => shim(&args[1..]).map(|()| ExitCode::SUCCESS),
        _ => Err(MainError::Usage("missing or unknown subcommand".to_owned())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weka-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn number<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, MainError> {
    option(args, name)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| MainError::Usage(format!("{name} expects a number, got {v:?}")))
        })
        .transpose()
}

async fn serve(args: &[String]) -> Result<(), MainError> {
    let mut config = SimConfig::default();
    if let Some(s) = number(args, "--deactivate-secs")? {
        config.deactivate_host_secs = s;
    }
    if let Some(s) = number(args, "--drive-deactivate-secs")? {
        config.deactivate_drive_secs = s;
    }
    if let Some(s) = number(args, "--remove-secs")? {
        config.remove_host_secs = s;
    }
    let factor = number(args, "--time-factor")?.unwrap_or(1.0);
    let port = number(args, "--port")?.unwrap_or(0);
    let world = World::new(config, SimClock::new(chrono::Utc::now(), factor));
    let server = weka_sim::start(world, port)
        .await
        .map_err(io(format!("binding 127.0.0.1:{port}")))?;
    let bound = server.addr.port();
    if let Some(path) = option(args, "--port-file") {
        // Written via rename so a poller never reads a half-written file.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, format!("{bound}\n")).map_err(io(format!("writing {tmp}")))?;
        std::fs::rename(&tmp, path).map_err(io(format!("renaming {tmp} to {path}")))?;
    }
    println!("{bound}");
    eprintln!(
        "weka-sim: listening on http://127.0.0.1:{bound} (WEKA_API_URL_TEMPLATE={})",
        server.url_template()
    );
    server.wait().await;
    Ok(())
}

async fn cli(args: &[String]) -> Result<ExitCode, MainError> {
    let weka_args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let url = env("WEKA_SIM_URL")?;
    let request = CliRequest {
        ip: env("WEKA_SIM_IP")?,
        args: weka_args.to_vec(),
        instance_id: std::env::var("WEKA_SIM_INSTANCE_ID").ok(),
        hostname: std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()),
        stdin: if weka_sim::cli::reads_password(weka_args) {
            prompt_answer()?
        } else {
            None
        },
    };
    let server_error = |message: String| MainError::Server {
        url: url.clone(),
        message,
    };
    let body = serde_json::to_vec(&request).map_err(|e| server_error(e.to_string()))?;
    let (status, answer) = weka_sim::http::post_json(&url, "/_sim/cli", &body)
        .await
        .map_err(|e| server_error(e.to_string()))?;
    if status != 200 {
        return Err(server_error(format!(
            "http {status}: {}",
            String::from_utf8_lossy(&answer)
        )));
    }
    let out: CliOutput =
        serde_json::from_slice(&answer).map_err(|e| server_error(e.to_string()))?;
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    Ok(ExitCode::from(u8::try_from(out.exit_code).unwrap_or(1)))
}

/// The CLI's password prompt without a terminal: the first line of stdin (none at EOF).
fn prompt_answer() -> Result<Option<String>, MainError> {
    let mut line = String::new();
    let read = std::io::stdin()
        .read_line(&mut line)
        .map_err(io("reading the password from stdin"))?;
    if read == 0 {
        return Ok(None);
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Some(line.strip_suffix('\r').unwrap_or(line).to_owned()))
}

fn shim(args: &[String]) -> Result<(), MainError> {
    let path = args
        .first()
        .ok_or_else(|| MainError::Usage("shim needs a PATH".to_owned()))?;
    let exe = std::env::current_exe().map_err(io("locating this binary"))?;
    let script = format!(
        "#!/bin/sh\n# weka CLI shim: forwards to the WEKA simulator (WEKA_SIM_URL, WEKA_SIM_IP).\nexec '{}' cli -- \"$@\"\n",
        exe.display()
    );
    std::fs::write(path, script).map_err(io(format!("writing {path}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(io(format!("chmod {path}")))?;
    }
    Ok(())
}
