//! The decoder against serde, the differential oracle: fixtures, every field of every record
//! table with many values, whole documents, truncations and random mutations, and lists cut in two.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::super::model::{DrivesList, HostsList, NodesList};
use super::lists::{Cut, List};
use super::records::{self, record};
use super::scan::Cursor;
use super::{DecodeError, cluster_lists, disks_list, hosts_list, nodes_list};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/weka/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Ours and serde agree: same value, or both refuse.
fn agree<T: DeserializeOwned + PartialEq + Debug>(
    json: &[u8],
    ours: fn(&[u8]) -> Result<T, DecodeError>,
) -> bool {
    let theirs = serde_json::from_slice::<T>(json);
    let mine = ours(json);
    match (&theirs, &mine) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(json)),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "serde {:?} but ours {:?} on {}",
            theirs.as_ref().err(),
            mine.as_ref().err(),
            String::from_utf8_lossy(json)
        ),
    }
    theirs.is_ok()
}

fn all_agree(json: &[u8]) {
    agree(json, hosts_list);
    agree(json, disks_list);
    agree(json, nodes_list);
}

#[test]
fn fixtures_decode_as_serde_does_pretty_and_compact() {
    fn both<T: DeserializeOwned + PartialEq + Debug>(
        name: &str,
        ours: fn(&[u8]) -> Result<T, DecodeError>,
    ) {
        let pretty = fixture(name);
        assert!(agree(&pretty, ours));
        let compact =
            serde_json::to_vec(&serde_json::from_slice::<Value>(&pretty).unwrap()).unwrap();
        assert!(agree(&compact, ours));
    }
    both("hosts_list.json", hosts_list);
    both("disks_list.json", disks_list);
    both("nodes_list.json", nodes_list);
}

fn host_with(field: &str, value: &str) -> Vec<u8> {
    format!(r#"{{"HostId<1>": {{"uid": "u", "{field}": {value}, "status": "UP"}}}}"#).into_bytes()
}

#[test]
fn field_values_decode_or_fail_as_serde_does() {
    let values = [
        "null",
        "true",
        "false",
        "0",
        "-0",
        "12",
        "1.5",
        "1e3",
        "01",
        "-",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        r#""""#,
        r#""ACTIVE""#,
        r#""\u0041CTIVE""#,
        r#""weird""#,
        r#""HostId<3>""#,
        r#""HostId<INVALID>""#,
        r#""HostId\u003c4>""#,
        r#""HostId<-4>""#,
        r#""HostId<+4>""#,
        r#""HostId<007>""#,
        r#""NodeId<4>""#,
        r#""2026-11-01T09:28:53.407011Z""#,
        r#""2026-11-01T09:28:53+05:30""#,
        r#""2026-11-01T09:28:60Z""#,
        r#""2026-11-01 09:28:53Z""#,
        r#""2026-02-30T00:00:00Z""#,
        r#""2026-11-01T09:28:53\u005a""#,
        r#""a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00""#,
        r#""\ud800""#,
        r#""\udc00x""#,
        r#""\x""#,
        r#""\u12""#,
        "\"tab\there\"",
        "\"é ü 漢\"",
        // Around the 24 bytes a `CompactString` holds inline.
        r#""i-0123456789abcdef01234""#,
        r#""i-0123456789abcdef012345""#,
        r#""i-0123456789abcdef0123456""#,
        r#""i-0123456789abcdef01234é""#,
        r#""i-0123456789abcdef0123\u00e9""#,
        "{}",
        r#"{"instance_id": "i-1", "instance_type": null, "x": [1, {"y": "}"}]}"#,
        r#"{"instance_id": "i-1", "instance_id": "i-2"}"#,
        r#"{"instance_id": 5}"#,
        "[]",
        "[1, 2",
        r#"["a", "b"]"#,
        "nul",
        "tru",
        "\"unterminated",
    ];
    // Every field of every record table (at the top level of each record, where it is known to
    // one record type and unknown to the others), and names none of them has.
    let tables = [
        records::host::FIELDS,
        records::drive::FIELDS,
        records::node::FIELDS,
        records::aws::FIELDS,
    ];
    let names = tables
        .into_iter()
        .flatten()
        .map(|name| std::str::from_utf8(name).unwrap());
    let fields: Vec<&str> = names.chain(["uid", "up_since", "unknown"]).collect();
    let mut ok = 0;
    for &field in &fields {
        for value in values {
            let json = host_with(field, value);
            ok += usize::from(agree(&json, hosts_list));
            agree(&json.replace_key("HostId<1>", "DiskId<1>"), disks_list);
            agree(&json.replace_key("HostId<1>", "NodeId<1>"), nodes_list);
        }
    }
    assert!(ok > 300, "{ok}");
    // The nested record's fields, in a host.
    for field in records::aws::FIELDS
        .iter()
        .map(|f| std::str::from_utf8(f).unwrap())
    {
        for value in values {
            agree(
                &host_with("aws", &format!(r#"{{"{field}": {value}}}"#)),
                hosts_list,
            );
        }
    }
}

/// A record with a required field, as serde reads it.
#[derive(Debug, PartialEq, serde::Deserialize)]
pub(super) struct Probe {
    id: super::super::model::HostId,
    #[serde(default)]
    n: Option<i64>,
}

record! {
    probe[0]: Probe {
        #[required] id => Cursor::host_id,
        n => |c| c.nullable(Cursor::i64),
    }
}

fn probe_record(json: &[u8]) -> Result<Probe, DecodeError> {
    let mut c = Cursor::new(json);
    let done = probe::decode(&mut c).and_then(|p| c.end().map(|()| p));
    c.finish(done)
}

#[test]
fn required_fields_are_refused_when_missing_as_serde_does() {
    let docs: [&[u8]; 7] = [
        b"{}",
        br#"{"n": 3}"#,
        br#"{"id": "HostId<1>"}"#,
        br#"{"n": null, "id": "HostId<2>", "x": [1]}"#,
        br#"{"id": "HostId<1>", "id": "HostId<2>"}"#,
        br#"{"id": null}"#,
        br#"["HostId<3>", 4]"#,
    ];
    let ok = docs.iter().filter(|doc| agree(doc, probe_record)).count();
    assert_eq!(ok, 3);
}

trait ReplaceKey {
    fn replace_key(&self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceKey for Vec<u8> {
    fn replace_key(&self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(self).replace(from, to).into_bytes()
    }
}

#[test]
fn documents_decode_or_fail_as_serde_does() {
    let docs: [&[u8]; 27] = [
        b"{}",
        b" \n{ } \t",
        b"",
        b"null",
        b"[]",
        b"{} x",
        b"{}}",
        br#"{"HostId<1>": null}"#,
        br#"{"HostId<1>": {}}"#,
        br#"{"HostId<1>": []}"#,
        br#"{"HostId<1>": {"uid": "a"}, "HostId<1>": {"uid": "b"}}"#,
        br#"{"HostId<2>": {"uid": "a"}, "HostId<1>": {"uid": "b"}, "HostId<2>": {}}"#,
        br#"{"HostId<2>": {"host_ip": "a"}, "HostId<INVALID>": {"host_ip": "b"}, "HostId<0>": {}, "HostId<2>": {"host_ip": "c"}}"#,
        br#"{"HostId<900000000000>": {"host_ip": "a"}, "HostId<3>": {"host_ip": "b"}, "HostId<900000000000>": {"host_ip": "c"}, "HostId<INVALID>": {}}"#,
        br#"{"HostId<9223372036854775807>": {"host_ip": "a"}, "HostId<9223372036854775806>": {}}"#,
        br#"{"HostId<1>": {"uid": "a", "uid": "b"}}"#,
        br#"{"HostId<1>": {"ui\u0064": "a"}}"#,
        br#"{"HostId\u003c1>": {"uid": "a"}}"#,
        br#"{"HostId<x>": {}}"#,
        br#"{"DiskId<1>": {}}"#,
        br#"{"HostId<1>": {"uid": "a",}}"#,
        br#"{"HostId<1>": {"uid" "a"}}"#,
        br#"{"HostId<1>": {"uid": "a"} "HostId<2>": {}}"#,
        b"{\"HostId<1>\": {\"uid\": \"\xff\"}}",
        b"{\"HostId<1>\": {\"x\": \"\xff\xfe\"}}",
        b"{\"HostId<1>\": {\"x\": \"a\x01\"}}",
        b"{\"HostId<1>\": {\"x\"\n:\n[ 1 ,\n2 ] , \"uid\" : \"u\" }\n}",
    ];
    for doc in docs {
        all_agree(doc);
    }
    let deep = |n: usize| {
        format!(
            r#"{{"HostId<1>": {{"x": {}{}}}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    // serde has no nesting limit for ignored values.
    for n in [10, 127, 128, 129, 200, 300] {
        assert!(agree(deep(n).as_bytes(), hosts_list));
    }
    let mixed = format!(
        r#"{{"HostId<1>": {{"x": {}1{}, "uid": "u"}}}}"#,
        r#"[{"a":"#.repeat(150),
        "}]".repeat(150)
    );
    assert!(agree(mixed.as_bytes(), hosts_list));
    let unbalanced = format!(
        r#"{{"HostId<1>": {{"x": {}1{}]}}}}"#,
        "[".repeat(140),
        "]".repeat(138)
    );
    assert!(!agree(unbalanced.as_bytes(), hosts_list));
}

fn sample_hosts(n: usize) -> Value {
    let mut map = serde_json::Map::new();
    for i in 0..n {
        let state = ["ACTIVE", "INACTIVE", "DEACTIVATING", "PHASING"][i % 4];
        map.insert(
            format!("HostId<{i}>"),
            json!({
                "uid": format!("uid-{i}"), "mode": if i % 7 == 0 { "client" } else { "backend" },
                "container_name": "drives0", "host_ip": format!("10.0.{}.{}", i / 256, i % 256),
                "added_time": "2026-11-01T09:28:53.407011Z", "state_changed_time": null,
                "state": state,
                "status": "UP", "auto_remove_timeout": if i % 5 == 0 { json!(3600) } else { json!(null) },
                "aws": if i % 3 == 0 { json!(null) } else { json!({"instance_id": format!("i-{i}"), "zone": "a"}) },
                "ips": [format!("10.0.0.{}", i % 256)], "os_info": {"kernel": "6.1", "x": [1, 2.5e3, true]},
                "text": "quote \" backslash \\ brace } bracket ] comma , colon :"
            }),
        );
    }
    Value::Object(map)
}

#[test]
fn truncations_and_mutations_agree_with_serde() {
    let doc = serde_json::to_vec(&sample_hosts(3)).unwrap();
    for end in 0..doc.len() {
        assert!(!agree(&doc[..end], hosts_list) || end == doc.len());
    }
    // Deterministic byte mutations (a small LCG).
    let alphabet = b"{}[]:,\"\\ nu0123456789.eE-+tfalsrHostId<>x\x01\xc3";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        usize::try_from(state >> 33).unwrap()
    };
    for _ in 0..20_000 {
        let mut m = doc.clone();
        for _ in 0..1 + next() % 3 {
            let at = next() % m.len();
            match next() % 3 {
                0 => m[at] = alphabet[next() % alphabet.len()],
                1 => {
                    m.remove(at);
                }
                _ => m.insert(at, alphabet[next() % alphabet.len()]),
            }
        }
        agree(&m, hosts_list);
    }
}

#[test]
fn large_lists_cut_in_two_give_the_sequential_result() {
    let mut value = sample_hosts(4_000);
    // Entries whose nested objects are followed by a member that looks like a list key: the
    // cut may land there and must then be refused.
    if let Value::Object(map) = &mut value {
        for i in 1_900..2_100 {
            if let Some(Value::Object(host)) = map.get_mut(&format!("HostId<{i}>")) {
                host.insert("HostId<7>".to_owned(), json!({"y": {}}));
                host.insert("z".to_owned(), json!({}));
            }
        }
    }
    let mut hosts = serde_json::to_vec(&value).unwrap();
    // Keys repeated across the halves: the last entry wins.
    hosts.pop();
    hosts.extend_from_slice(br#","HostId<5>":{"uid":"again"},"HostId<3999>":null}"#);
    assert!(cluster_lists(&hosts, b"{}", b"{}").0.is_err());
    hosts.truncate(hosts.len() - br#","HostId<3999>":null}"#.len());
    hosts.extend_from_slice(br#","HostId<3999>":{"uid":"last"}}"#);
    assert!(hosts.len() > 1 << 20);
    let disks = br#"{"DiskId<1>": {"host_id": "HostId<1>", "status": "ACTIVE"}}"#;
    let nodes = br#"{"NodeId<0>": {"host_id": "HostId<1>", "status": "DOWN"}}"#;
    let (h, d, n) = cluster_lists(&hosts, disks, nodes);
    assert_eq!(
        h.unwrap(),
        serde_json::from_slice::<HostsList>(&hosts).unwrap()
    );
    assert_eq!(
        d.unwrap(),
        serde_json::from_slice::<DrivesList>(disks).unwrap()
    );
    assert_eq!(
        n.unwrap(),
        serde_json::from_slice::<NodesList>(nodes).unwrap()
    );
    // Every cut position, true boundary or not, gives the same map.
    let whole = hosts_list(&hosts).unwrap();
    let mut boundaries = 0;
    for at in (0..hosts.len()).filter(|&i| hosts[i] == b'"').step_by(997) {
        let cut = Cut {
            json: &hosts,
            at: Some(at),
        };
        let first = List::HOSTS.first_half(&cut);
        let got = List::HOSTS
            .join(&cut, first, List::HOSTS.second_half(&cut))
            .unwrap();
        assert_eq!(got, whole, "cut at {at}");
        boundaries += usize::from(at >= 2 && hosts.get(at - 2..at) == Some(b"},"));
    }
    assert!(boundaries > 0);
    // A broken second half is reported.
    let mut broken = hosts;
    let last = broken.len() - 2;
    broken[last] = b'x';
    let (h, _, _) = cluster_lists(&broken, disks, nodes);
    assert!(h.is_err());
}

/// A list of `n` hosts in WEKA's compact layout, record `changed` (if any) rewritten by `edit`.
fn hosts_with_one_changed(n: usize, changed: usize, edit: &Edit) -> Vec<u8> {
    let record = |i: usize| {
        format!(
            r#"{{"uid":"u{i}","host_ip":"10.0.0.{i}","aws":{{"instance_id":"i-{i}","zone":"a"}},"status":"UP","cores_ids":[1,2],"n":4096,"f":-1.5e3,"t":true,"z":null,"s":"c\"d","e":{{"k":[{{}}]}},"state":"ACTIVE","a_member_whose_head_is_longer_than_forty_eight_bytes":1,"mode":"backend","machine_identifier":"m{i}","added_time":"2026-11-01T09:28:53Z"}}"#
        )
        .into_bytes()
    };
    let mut doc = b"{".to_vec();
    for i in 0..n {
        if i > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(format!(r#""HostId<{i}>":"#).as_bytes());
        let text = record(i);
        doc.extend(if i == changed { edit(text) } else { text });
    }
    doc.push(b'}');
    doc
}

/// A rewrite of a record's text.
type Edit = dyn Fn(Vec<u8>) -> Vec<u8>;

/// Records after the first are checked against the layout the first taught (`Cursor::
/// predicted_key`): any change to a later record's member heads (a byte, whitespace, an escape,
/// a duplicate, a missing, extra or moved member) reads, or fails, as serde does, as do records
/// after a changed one (the layout is learned again).
#[test]
fn records_read_against_a_learned_layout_agree_with_serde() {
    let replace =
        |from: &'static str, to: &'static str| move |text: Vec<u8>| text.replace_key(from, to);
    let edits: Vec<Box<Edit>> = vec![
        Box::new(|text| text),
        Box::new(replace(r#""status":"#, r#""statuS":"#)),
        Box::new(replace(r#""status":"#, r#""stat\u0075s":"#)),
        Box::new(replace(r#""status":"#, r#""status" :"#)),
        Box::new(replace(r#","status":"#, r#", "status":"#)),
        Box::new(replace(r#""status":"#, r#""state":"#)),
        Box::new(replace(r#""uid":"#, r#""mode":"#)),
        Box::new(replace(r#""uid":"#, r#""aws":"#)),
        Box::new(replace(r#""instance_id":"#, r#""zone":"#)),
        Box::new(replace(r#""zone":"#, r#""instance_id":"#)),
        Box::new(replace(r#""status":"UP","#, "")),
        Box::new(replace(r#""uid":"#, r#""extra":null,"uid":"#)),
        Box::new(replace(
            r#""status":"UP","cores_ids":[1,2]"#,
            r#""cores_ids":[1,2],"status":"UP""#,
        )),
        Box::new(replace(
            r#""a_member_whose_head_is_longer_than_forty_eight_bytes""#,
            r#""a_member_whose_head_is_longer_than_forty_eight_byteS""#,
        )),
        Box::new(replace(
            r#""mode":"backend""#,
            r#""mode":"backend","mode":"client""#,
        )),
        Box::new(|mut text: Vec<u8>| {
            // A key that is not UTF-8, as long as a known one.
            let at = text.windows(6).position(|w| w == b"\"mode\"").unwrap();
            text[at + 2] = 0xFF;
            text
        }),
        Box::new(|mut text: Vec<u8>| {
            let at = text.windows(6).position(|w| w == b"\"mode\"").unwrap();
            text[at + 2] = 0x01;
            text
        }),
    ];
    for edit in &edits {
        // The learning record, the first read against its layout, and one in the middle.
        for changed in [0, 1, 3] {
            all_agree(&hosts_with_one_changed(6, changed, edit));
        }
    }
    // Every byte of a record read against the layout, and of the record that teaches it,
    // replaced by bytes that matter to the grammar.
    let plain = hosts_with_one_changed(3, usize::MAX, &|text| text);
    let first = plain.windows(2).position(|w| w == b":{").unwrap() + 1;
    let second = first + plain[first..].windows(2).position(|w| w == b"},").unwrap() + 2;
    let second = second + plain[second..].iter().position(|&c| c == b'{').unwrap();
    let mut ok = 0;
    for start in [first, second] {
        for at in start..start + 330 {
            for byte in [b'"', b'\\', b':', b',', b' ', b'x', b'}', 0x01, 0xC3] {
                let mut doc = plain.clone();
                doc[at] = byte;
                ok += usize::from(agree(&doc, hosts_list));
            }
        }
    }
    assert!(ok > 100, "{ok}");
    // Pretty-printed: the heads hold the indentation.
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&plain).unwrap()).unwrap();
    assert!(agree(&pretty, hosts_list));
    let edited = pretty.replace_key("    \"status\"", "  \"status\"");
    assert!(agree(&edited, hosts_list));
}

/// Strings whose escapes, control characters, quotes and multi-byte (or invalid) UTF-8 fall at
/// every position around the 64-byte blocks and the 4 KiB windows of the stop index, in a kept
/// string (`host_ip`, whose UTF-8 is checked) and in an ignored one.
#[test]
fn strings_across_index_block_and_window_boundaries_agree_with_serde() {
    let specials: [&[u8]; 10] = [
        br#"\""#,
        br"\\",
        br"\u00e9",
        br"\ud83d\ude00",
        br"\x",
        br"\u12",
        "é漢".as_bytes(),
        b"\x01",
        b"\xff",
        b"\xe6\xbc",
    ];
    let mut ok = 0;
    for field in ["host_ip", "other"] {
        for special in specials {
            for pad in 4_000..4_140 {
                let mut doc = br#"{"HostId<1>":{"uid":"u","pad":""#.to_vec();
                doc.extend(std::iter::repeat_n(b'x', pad));
                doc.extend_from_slice(format!(r#"","{field}":"ab"#).as_bytes());
                doc.extend_from_slice(special);
                doc.extend_from_slice(br#"cd","status":"UP"}}"#);
                ok += usize::from(agree(&doc, hosts_list));
            }
        }
    }
    assert!(ok > 1_000, "{ok}");
}
