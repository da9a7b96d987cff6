//! Hostile JSON: fragments, shapes of each handler's request, and the payload wrapper.

use super::*;

pub(super) const FRAGMENTS: &[&str] = &[
    "",
    "\0",
    "\n",
    "\r\n",
    "\t",
    "\u{7f}",
    "\u{1b}[2J",
    "\u{202e}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "日本語",
    "😀",
    "\"",
    "'",
    "\\",
    "$(reboot)",
    "`id`",
    "${IFS}",
    ";rm -rf /",
    "|sh",
    "../../etc/passwd",
    "/dev/null",
    "%00",
    "%2e%2e/",
    "#",
    "@@X@@",
    " ",
    "null",
    "true",
    "1e999",
    "-1",
    "0x10",
    "NaN",
    "i-",
    "i-0",
    "i-00000000000000000",
    "i-0123456789abcdef0",
    "i-ffffffffffffffffff",
    "ip-10-0-1-10",
    "10.0.1.10",
    "nfs",
    "smb",
    "data",
    "backend",
    "progress",
    "error",
    "debug",
    "status",
    "Join completed successfully",
    "+10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2026-11-10T00:00:00Z",
];

pub(super) fn fragment() -> impl Strategy<Value = String> {
    prop::sample::select(FRAGMENTS).prop_map(str::to_owned)
}

/// Hostile text, rarely huge (up to ~1 MB).
pub(super) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::collection::vec(fragment(), 0..5).prop_map(|v| v.concat()),
        4 => "[a-z0-9-]{0,24}",
        2 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => (fragment(), 1_usize..4_096).prop_map(|(f, n)| f.repeat(n).chars().take(n * 4).collect()),
        // Rare: one in ~100 strings is huge (up to ~1 MB).
        1 => prop_oneof![
            9 => Just(String::new()),
            1 => (1_usize..1_000_000).prop_map(|n| "A".repeat(n)),
        ],
    ]
}

/// An instance id: one the group holds, or one that looks right but is not there.
pub(super) fn instance_id() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0_usize..6).prop_map(member),
        3 => (6_u64..u64::MAX).prop_map(|n| format!("i-{n:017x}")),
        1 => "i-[0-9a-f]{8}",
        1 => text(),
    ]
}

pub(super) fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(6),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(i32::MAX),
            json!(u32::MAX),
            json!(-0.0),
            json!(0.5),
            json!(1e308),
            json!(-1e308),
            json!(5e-324),
        ]),
        any::<i64>().prop_map(Value::from),
    ]
}

pub(super) fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => text().prop_map(Value::String),
        2 => instance_id().prop_map(Value::String),
    ]
}

pub(super) fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![fragment(), key()], inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A deeply nested value, within serde_json's recursion limit (128).
pub(super) fn deep() -> impl Strategy<Value = Value> {
    (1_usize..120, any::<bool>()).prop_map(|(depth, arrays)| {
        let mut v = json!("x");
        for _ in 0..depth {
            v = if arrays {
                json!([v])
            } else {
                json!({ "a": v })
            };
        }
        v
    })
}

/// Every field name any handler reads, and the step envelope's.
pub(super) const KEYS: &[&str] = &[
    "name",
    "protocol",
    "container_uid",
    "nic_name",
    "type",
    "message",
    "hostname",
    "fetch_weka_credentials",
    "show_admin_password",
    "execution",
    "input",
    "event",
    "username",
    "password",
    "admin_password",
    "weka_backends_desired_capacity",
    "nfs_backends_desired_capacity",
    "weka_backend_instances",
    "nfs_backend_instances",
    "nfs_interface_group_instance_ips",
    "down_backends_removal_timeout",
    "backend_ips",
    "role",
    "version",
    "Hosts",
    "ToTerminate",
    "TransientErrors",
    "set_to_terminate_instances",
    "refusal",
    "detail-type",
    "source",
    "time",
    "detail",
];

pub(super) fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

/// A field value: usually plausible, often hostile.
pub(super) fn field(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        5 => plausible,
        3 => scalar(),
        1 => any_json(),
        1 => deep(),
    ]
    .boxed()
}

/// An object with each of `fields` present or not, plus hostile extra fields.
pub(super) fn shaped(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let present: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .into_iter()
        .map(|(k, s)| {
            prop::option::weighted(0.8, field(s).prop_map(move |v| (k.to_owned(), v))).boxed()
        })
        .collect();
    (
        present,
        prop::collection::vec((prop_oneof![key(), text()], scalar()), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut map: serde_json::Map<String, Value> = extra.into_iter().collect();
            map.extend(fields.into_iter().flatten());
            Value::Object(map)
        })
        .boxed()
}

pub(super) fn str_of(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    s.prop_map(Value::String).boxed()
}

pub(super) fn one_of(values: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop::sample::select(values)
        .prop_map(|s| Value::String(s.to_owned()))
        .boxed()
}

pub(super) const PROTOCOLS: &[&str] = &["", "nfs", "smb", "smbw", "s3", "data", "NFS", "ftp"];

pub(super) fn vm_payload() -> BoxedStrategy<Value> {
    shaped(vec![
        ("name", str_of(instance_id())),
        ("protocol", one_of(PROTOCOLS)),
        ("container_uid", str_of(text())),
        ("nic_name", str_of(text())),
    ])
}

pub(super) fn instance_refs() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => prop::collection::vec((instance_id(), "10\\.0\\.[0-9]{1,3}\\.[0-9]{1,3}"), 0..8),
        1 => (0_usize..2_000).prop_map(|n| {
            (0..n).map(|i| (format!("i-{:017x}", 0x1000 + i), format!("10.9.{}.{}", i / 250, i % 250))).collect()
        }),
    ]
    .prop_map(|refs| {
        Value::Array(
            refs.into_iter()
                .map(|(id, ip)| json!({"Id": id, "PrivateIp": ip}))
                .collect(),
        )
    })
    .boxed()
}

pub(super) fn strings() -> BoxedStrategy<Value> {
    prop_oneof![
        prop::collection::vec(text(), 0..6),
        (0_usize..5_000).prop_map(|n| (0..n).map(|i| format!("e{i}")).collect()),
    ]
    .prop_map(|v| json!(v))
    .boxed()
}

pub(super) fn time() -> BoxedStrategy<Value> {
    one_of(&[
        "2026-11-10T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "+262143-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-13-45T99:99:99Z",
    ])
}

pub(super) fn host_group_info() -> BoxedStrategy<Value> {
    shaped(vec![
        ("username", str_of(text())),
        ("password", str_of(text())),
        ("admin_password", str_of(text())),
        ("weka_backends_desired_capacity", number().boxed()),
        ("nfs_backends_desired_capacity", number().boxed()),
        ("weka_backend_instances", instance_refs()),
        ("nfs_backend_instances", instance_refs()),
        ("down_backends_removal_timeout", number().boxed()),
        ("backend_ips", strings()),
        ("role", one_of(&["backend", "nfs", "client", ""])),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

pub(super) fn scale_response_input() -> BoxedStrategy<Value> {
    let host = shaped(vec![
        ("instance_id", str_of(instance_id())),
        ("private_ip", str_of(text())),
        (
            "status",
            one_of(&["ACTIVE", "INACTIVE", "DEACTIVATING", "DOWN", "x"]),
        ),
        ("added_time", time()),
        (
            "host_id",
            one_of(&[
                "HostId<1>",
                "HostId<-1>",
                "HostId<99999999999999999999>",
                "1",
            ]),
        ),
    ]);
    shaped(vec![
        (
            "Hosts",
            prop::collection::vec(host, 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("ToTerminate", instance_refs()),
        ("TransientErrors", strings()),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

pub(super) fn terminated_instances() -> BoxedStrategy<Value> {
    let one = shaped(vec![
        ("instance_id", str_of(instance_id())),
        ("creation_date", time()),
    ]);
    shaped(vec![
        (
            "set_to_terminate_instances",
            prop::collection::vec(one, 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("TransientErrors", strings()),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

pub(super) fn lifecycle_event() -> BoxedStrategy<Value> {
    let detail = shaped(vec![
        ("LifecycleActionToken", str_of(text())),
        (
            "AutoScalingGroupName",
            one_of(&[ASG, NFS_ASG, "other-group", ""]),
        ),
        (
            "LifecycleHookName",
            one_of(&["weka-launch", "weka-terminate", "x"]),
        ),
        ("EC2InstanceId", str_of(instance_id())),
        (
            "LifecycleTransition",
            one_of(&[
                "autoscaling:EC2_INSTANCE_TERMINATING",
                "autoscaling:EC2_INSTANCE_LAUNCHING",
                "autoscaling:TEST_NOTIFICATION",
                "x",
            ]),
        ),
    ]);
    shaped(vec![
        (
            "detail-type",
            one_of(&[
                "EC2 Instance-terminate Lifecycle Action",
                "EC2 Instance-launch Lifecycle Action",
                "EC2 Instance Launch Successful",
                "Scheduled Event",
                "x",
            ]),
        ),
        ("source", one_of(&["aws.autoscaling", "aws.events", "x"])),
        ("time", time()),
        ("detail", detail),
    ])
}

/// A Step Functions envelope around `input` (or a direct call with `input`'s fields).
pub(super) fn step(input: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        3 => shaped(vec![
            ("execution", str_of(text())),
            ("input", input.clone()),
        ]),
        1 => input,
    ]
    .boxed()
}

/// Any payload for a handler whose valid shape is `shape`.
pub(super) fn payload(shape: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        6 => shape,
        2 => any_json(),
        1 => deep(),
    ]
    .boxed()
}
