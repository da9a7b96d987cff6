//! A simulated WEKA fleet for the local cloud and end-to-end tests.
//!
//! One loopback server holds a [`world::World`] of machines (by private IP) and the WEKA
//! clusters they form. It answers:
//! - JSON-RPC 2.0 at `POST /<ip>/api/v1`, so the Lambdas run with
//!   `WEKA_API_URL_TEMPLATE=http://127.0.0.1:<port>/{ip}/api/v1`; a machine that is unknown,
//!   down or not in a cluster answers 503 (or drops the connection), like an unreachable
//!   backend ([`rpc`]);
//! - a control API under `/_sim/` for the fleet simulator and tests ([`server`]);
//! - fault injection on the JSON-RPC endpoint (HTTP errors, dropped connections, slow answers)
//!   and a log of the JSON-RPC requests served ([`faults`]);
//! - `POST /_sim/cli`, which the `weka` shim (`weka-sim cli -- <args>`) calls to run the CLI
//!   commands the generated instance scripts use ([`cli`]).
//!
//! Time is simulated ([`clock::SimClock`]): deactivation, drive phase-out and removal complete
//! after configurable delays, evaluated lazily whenever the world is read.

pub mod cli;
pub mod clock;
pub mod faults;
pub mod http;
pub mod rpc;
pub mod server;
pub mod world;

pub use clock::SimClock;
pub use server::{RunningServer, SharedWorld, start};
pub use world::{MachineSpec, SimConfig, SimError, World};
