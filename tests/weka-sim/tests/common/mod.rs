//! Helpers shared by the integration tests: a world with N installed machines, a running
//! server, and small HTTP calls to the control API.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use weka_sim::{MachineSpec, SimClock, SimConfig, World};

/// `10.0.1.<10+i>`.
pub fn ip(i: usize) -> String {
    format!("10.0.1.{}", 10 + i)
}

/// A frozen-clock world with `n` installed machines (drives0/compute0/frontend0, signed NVMes).
pub fn world_with_machines(n: usize) -> World {
    let mut world = World::new(SimConfig::default(), SimClock::manual());
    for i in 0..n {
        world
            .register_machine(MachineSpec {
                ip: ip(i),
                instance_id: Some(format!("i-{i:017x}")),
                ..MachineSpec::default()
            })
            .unwrap();
    }
    world
}

/// A world with `n` machines clusterized, drives scanned, io started, admin password `adminpw`
/// and the deployment user `weka-deployment` / `deploypw`; returns the cluster guid too.
pub fn running_cluster(n: usize) -> (World, String) {
    let mut world = world_with_machines(n);
    let mut names = Vec::new();
    let mut ips = Vec::new();
    for i in 0..n {
        for (c, p) in [
            ("drives0", 14000),
            ("compute0", 15000),
            ("frontend0", 16000),
        ] {
            names.push(format!("i-{i:017x}-{c}"));
            ips.push(format!("{}:{p}", ip(i)));
        }
    }
    let guid = world.create_cluster(&names, &ips, Some("adminpw")).unwrap();
    world
        .set_user(Some(&guid), "weka-deployment", "deploypw", "clusteradmin")
        .unwrap();
    world.scan_drives(&guid, &[]).unwrap();
    world.start_io(&guid).unwrap();
    (world, guid)
}

/// POSTs JSON to the control API of a running server; returns status and body.
pub async fn control(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, raw) = weka_sim::http::post_json(base, path, body.to_string().as_bytes())
        .await
        .expect("control call");
    let value = serde_json::from_slice(&raw).unwrap_or(json!(null));
    (status, value)
}

/// The dump of the (only) cluster of a running server's world.
pub async fn only_cluster(base: &str) -> Value {
    let (_, state) = control(base, "/_sim/state", &json!({})).await;
    state["clusters"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone()
}

/// POSTs a raw JSON-RPC request to backend `ip`, optionally with a bearer token.
pub async fn rpc_raw(base: &str, ip: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let payload = body.to_string();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST /{ip}/api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(payload.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(json!(null)))
}
