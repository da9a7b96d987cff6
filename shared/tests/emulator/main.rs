//! The AWS adapters against moto server (started by `make test`; endpoint in
//! `WEKA_TEST_AWS_ENDPOINT`), and the `terminate` handler on them. Without a running emulator
//! every test says so and passes, unless `WEKA_TEST_REQUIRE_EMULATOR=1`; the default nextest
//! profile leaves this binary out (`make check`), the `ci` profile runs it (`make test`).
//! (moto lacks `CompleteLifecycleAction`/`RecordLifecycleActionHeartbeat`: the Auto Scaling
//! side of the hooks is covered on the fakes, `tests/lifecycle/`, and in the local cloud.)
//!
//! Each test uses its own table and groups, so tests run in parallel against one server.

#![allow(clippy::unwrap_used)]

/// Returns from the test, with a message, when no emulator runs.
macro_rules! require_emulator {
    () => {
        if !crate::common::emulator_running() {
            return;
        }
    };
}

mod adoption;
mod aws;
mod certificates;
mod common;
mod lifecycle;
mod scaling;
mod store;
#[path = "../store_props/mod.rs"]
mod store_props;
#[path = "store_props.rs"]
mod store_round_trip;
