//! The `wekactl-aws` binary: everything is in the library (`wekactl_aws::run`).

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = wekactl_aws::args::Cli::parse();
    std::process::ExitCode::from(wekactl_aws::run(cli).await.code())
}
