//! The control plane's JSON-RPC client against the simulator's injected faults: retries of
//! failures that may pass (bounded, and stopped by the deadline), no retry of answers that
//! stand, token renewal in one session, and per-request timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use weka_shared::adapters::weka_rpc::{JsonRpcConnector, RetryPolicy, WekaRpcConfig};
use weka_shared::ports::{Credentials, WekaApi, WekaConnector, WekaError};

/// Retries that keep the tests quick; the behaviour is that of the default policy.
const QUICK_RETRY: RetryPolicy = RetryPolicy {
    rounds: 3,
    first_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(100),
};

fn connector(
    server: &weka_sim::RunningServer,
    timeout: Duration,
    retry: RetryPolicy,
) -> JsonRpcConnector {
    JsonRpcConnector::new(WekaRpcConfig {
        url_template: server.url_template(),
        timeout,
        retry,
    })
}

fn deployment() -> Credentials {
    Credentials {
        username: "weka-deployment".to_owned(),
        password: "deploypw".to_owned(),
    }
}

async fn running(machines: usize) -> weka_sim::RunningServer {
    let (world, _) = common::running_cluster(machines);
    weka_sim::start(world, 0).await.unwrap()
}

async fn inject(server: &weka_sim::RunningServer, rule: Value) {
    let (code, body) = common::control(&server.base_url(), "/_sim/faults", &rule).await;
    assert_eq!(code, 200, "{body}");
}

/// `(ip, method, status)` of every JSON-RPC request the simulator served, oldest first
/// (status 0: connection dropped).
async fn requests(server: &weka_sim::RunningServer) -> Vec<(String, String, u16)> {
    let (code, body) = common::control(&server.base_url(), "/_sim/requests", &json!({})).await;
    assert_eq!(code, 200, "{body}");
    body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_owned(),
                r["method"].as_str().unwrap_or("").to_owned(),
                r["status"]
                    .as_u64()
                    .map_or(0, |s| u16::try_from(s).unwrap()),
            )
        })
        .collect()
}

async fn clear_requests(server: &weka_sim::RunningServer) {
    let (code, _) = common::control(&server.base_url(), "/_sim/requests/clear", &json!({})).await;
    assert_eq!(code, 200);
}

/// The error of a `status` call that must fail, and fail within `bound`.
async fn status_fails_within(api: &impl WekaApi, bound: Duration) -> WekaError {
    let started = Instant::now();
    let err = api.call("status", json!({})).await.unwrap_err();
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    err
}

fn count(log: &[(String, String, u16)], method: &str) -> usize {
    log.iter().filter(|(_, m, _)| m == method).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_backend_that_answers_503_twice_then_recovers_serves_the_call() {
    let server = running(1).await;
    let ip = common::ip(0);
    inject(&server, json!({"ip": ip, "count": 2, "status": 503})).await;
    let api = connector(&server, Duration::from_secs(5), QUICK_RETRY)
        .connect(vec![ip.clone()], deployment());

    let status = api.call("status", json!({})).await.unwrap();
    assert_eq!(status["io_status"], "STARTED");
    let log = requests(&server).await;
    assert_eq!(
        log,
        [
            (ip.clone(), "user_login".to_owned(), 503),
            (ip.clone(), "user_login".to_owned(), 503),
            (ip.clone(), "user_login".to_owned(), 200),
            (ip.clone(), "status".to_owned(), 200),
        ]
    );

    // A 503 (or 429) on the call itself is retried with the token already held.
    clear_requests(&server).await;
    inject(
        &server,
        json!({"method": "hosts_list", "count": 1, "status": 503}),
    )
    .await;
    inject(
        &server,
        json!({"method": "hosts_list", "count": 1, "status": 429}),
    )
    .await;
    api.call("hosts_list", json!({})).await.unwrap();
    let log = requests(&server).await;
    assert_eq!(count(&log, "user_login"), 0, "{log:?}");
    let statuses: Vec<u16> = log.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(statuses, [503, 429, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_backend_that_always_answers_503_fails_typed_after_bounded_attempts() {
    let server = running(1).await;
    let ip = common::ip(0);
    inject(&server, json!({"ip": ip, "status": 503})).await;
    let api = connector(&server, Duration::from_secs(5), RetryPolicy::DEFAULT)
        .connect(vec![ip.clone()], deployment());

    let err = status_fails_within(&api, Duration::from_secs(10)).await;
    let WekaError::AllBackendsFailed {
        method,
        attempts,
        out_of_time,
        failures,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (method.as_str(), *attempts, *out_of_time),
        ("status", 3, false)
    );
    assert!(
        matches!(failures.as_slice(), [WekaError::Http { status: 503, ip: failed, .. }] if *failed == ip),
        "{failures:?}"
    );
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_stops_short_of_the_deadline() {
    let server = running(2).await;
    inject(&server, json!({"status": 503})).await;
    let patient = RetryPolicy {
        rounds: 1000,
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(200),
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    let api = connector(&server, Duration::from_secs(5), patient).connect_until(
        vec![common::ip(0), common::ip(1)],
        deployment(),
        Some(deadline),
    );

    let err = api.call("status", json!({})).await.unwrap_err();
    let late = Instant::now().saturating_duration_since(deadline);
    assert!(
        late < Duration::from_secs(2),
        "returned {late:?} after the deadline"
    );
    let WekaError::AllBackendsFailed {
        attempts,
        out_of_time,
        failures,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(*out_of_time, "{err}");
    assert!((2..100).contains(attempts), "{attempts} attempts");
    assert_eq!(failures.len(), 2, "the last failure of each backend: {err}");
    assert!(err.to_string().contains(&common::ip(0)) && err.to_string().contains(&common::ip(1)));

    // Past the deadline nothing is sent at all.
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    let sent = requests(&server).await.len();
    let err = api.call("status", json!({})).await.unwrap_err();
    assert!(matches!(err, WekaError::DeadlineReached { .. }), "{err:?}");
    assert_eq!(requests(&server).await.len(), sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_stand_are_not_retried() {
    let server = running(2).await;
    let pool = vec![common::ip(0), common::ip(1)];
    let api = connector(&server, Duration::from_secs(5), QUICK_RETRY).connect(pool, deployment());

    // A JSON-RPC error is WEKA's answer: neither retried nor tried on another backend.
    let err = api
        .call("cluster_remove_host", json!({"host_id": 9999}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WekaError::Rpc { code, .. } if code != -32601),
        "{err:?}"
    );
    let log = requests(&server).await;
    assert_eq!(count(&log, "cluster_remove_host"), 1, "{log:?}");
    assert_eq!(count(&log, "user_login"), 1, "{log:?}");

    // Nor is a 4xx other than 401 and 429.
    clear_requests(&server).await;
    inject(&server, json!({"method": "status", "status": 400})).await;
    let err = api.call("status", json!({})).await.unwrap_err();
    assert!(
        matches!(err, WekaError::Http { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_revoked_token_is_renewed_by_one_login_in_the_same_session() {
    let server = running(1).await;
    let ip = common::ip(0);
    let api = connector(&server, Duration::from_secs(5), QUICK_RETRY)
        .connect(vec![ip.clone()], deployment());
    api.call("status", json!({})).await.unwrap();
    api.call("status", json!({})).await.unwrap();
    assert_eq!(
        count(&requests(&server).await, "user_login"),
        1,
        "the token is reused"
    );

    // Past the token's lifetime (3600 simulated seconds).
    clear_requests(&server).await;
    let (code, _) = common::control(
        &server.base_url(),
        "/_sim/clock/advance",
        &json!({"seconds": 3601}),
    )
    .await;
    assert_eq!(code, 200);
    api.call("status", json!({})).await.unwrap();
    let renewed = [
        (ip.clone(), "status".to_owned(), 401),
        (ip.clone(), "user_login".to_owned(), 200),
        (ip.clone(), "status".to_owned(), 200),
    ];
    assert_eq!(requests(&server).await, renewed);

    // Revoked by WEKA before it expired.
    clear_requests(&server).await;
    let (code, body) = common::control(&server.base_url(), "/_sim/tokens/revoke", &json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert!(body["revoked"].as_u64() >= Some(1), "{body}");
    api.call("status", json!({})).await.unwrap();
    assert_eq!(requests(&server).await, renewed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_backend_is_abandoned_after_the_request_timeout() {
    let server = running(2).await;
    let slow = common::ip(0);
    inject(
        &server,
        json!({"ip": slow, "method": "status", "delay_ms": 10_000}),
    )
    .await;
    let timeout = Duration::from_millis(500);

    // Fails over to the next backend after about the timeout, not after the slow answer.
    let api = connector(&server, timeout, QUICK_RETRY)
        .connect(vec![slow.clone(), common::ip(1)], deployment());
    let started = Instant::now();
    let status = api.call("status", json!({})).await.unwrap();
    assert_eq!(status["io_status"], "STARTED");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let log = requests(&server).await;
    assert!(
        log.contains(&(slow.clone(), "status".to_owned(), 200)),
        "the slow answer was requested: {log:?}"
    );
    assert!(
        log.contains(&(common::ip(1), "status".to_owned(), 200)),
        "{log:?}"
    );

    // Alone, the slow backend fails the call within a few timeouts.
    let api = connector(&server, timeout, QUICK_RETRY).connect(vec![slow.clone()], deployment());
    let err = status_fails_within(&api, Duration::from_secs(6)).await;
    let WekaError::AllBackendsFailed {
        failures, attempts, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*attempts, 3);
    assert!(
        matches!(failures.as_slice(), [WekaError::Unreachable { .. }]),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_on_the_same_backend() {
    let server = running(1).await;
    let ip = common::ip(0);
    inject(&server, json!({"ip": ip, "count": 1, "close": true})).await;
    let api = connector(&server, Duration::from_secs(5), QUICK_RETRY)
        .connect(vec![ip.clone()], deployment());
    api.call("status", json!({})).await.unwrap();
    let log = requests(&server).await;
    assert_eq!(log[0], (ip, "user_login".to_owned(), 0), "{log:?}");
    assert_eq!(log.len(), 3, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_that_may_have_reached_weka_is_never_sent_again() {
    let server = running(2).await;
    let api = connector(&server, Duration::from_millis(500), QUICK_RETRY)
        .connect(vec![common::ip(0), common::ip(1)], deployment());
    let deactivate = "cluster_deactivate_hosts";
    let params = json!({"host_ids": ["HostId<0>"], "skip_resource_validation": false});
    api.call("status", json!({})).await.unwrap();

    // A 500, a reply slower than the timeout, a dropped connection: WEKA may have acted, so
    // the error is returned after one request, to no other backend either.
    for fault in [
        json!({"method": deactivate, "count": 1, "status": 500}),
        json!({"method": deactivate, "count": 1, "delay_ms": 3_000}),
        json!({"method": deactivate, "count": 1, "close": true}),
    ] {
        clear_requests(&server).await;
        inject(&server, fault.clone()).await;
        let err = api.call(deactivate, params.clone()).await.unwrap_err();
        let log = requests(&server).await;
        assert_eq!(count(&log, deactivate), 1, "{fault}: {err} {log:?}");
        assert!(
            !matches!(err, WekaError::AllBackendsFailed { .. }),
            "{fault}: returned as it came, not after a failover: {err}"
        );
    }

    // A 503 or 429 declines the request before processing: sent again, and served.
    for status in [503, 429] {
        clear_requests(&server).await;
        inject(
            &server,
            json!({"method": deactivate, "count": 1, "status": status}),
        )
        .await;
        api.call(deactivate, params.clone()).await.unwrap();
        let log = requests(&server).await;
        assert_eq!(count(&log, deactivate), 2, "{status}: {log:?}");
    }
}

/// Review (issue 15): after scale-down deactivated or removed a machine, the rest of the run
/// still sent calls through it. A session stops using a backend it is told to, logging in on
/// another, and never sends to it again; a session told to stop using every backend still
/// has one to try rather than none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_the_session_stops_using_gets_no_more_calls() {
    let server = running(3).await;
    let ips: Vec<String> = (0..3).map(common::ip).collect();
    let api =
        connector(&server, Duration::from_secs(5), QUICK_RETRY).connect(ips.clone(), deployment());
    api.call("status", json!({})).await.unwrap();
    assert!(
        requests(&server)
            .await
            .iter()
            .all(|(ip, _, _)| *ip == ips[0])
    );
    clear_requests(&server).await;
    api.stop_using(&ips[0]);
    for _ in 0..3 {
        api.call("status", json!({})).await.unwrap();
    }
    let log = requests(&server).await;
    assert!(!log.iter().any(|(ip, _, _)| *ip == ips[0]), "{log:?}");
    assert_eq!(
        count(&log, "user_login"),
        1,
        "one login on the next backend: {log:?}"
    );
    api.stop_using(&ips[1]);
    api.stop_using(&ips[2]);
    api.call("status", json!({})).await.unwrap();
}
