//! The payload of a split outbox row: many messages of one kind — JSON objects with the same
//! keys, such as a job's deletion events — stored once, not message by message. The keys are
//! listed once, the values every message shares (a job's batch id and delete reason) once,
//! and each message as an array of its other values:
//!
//! ```json
//! {"keys":["batchId","deleteReason","processInstanceId"],
//!  "shared":{"batchId":"b-1","deleteReason":"cleanup"},
//!  "rows":[["pi-1"],["pi-2"]]}
//! ```
//!
//! A job's events take about a third of the bytes (and of the rows, each held below
//! [`super::MAX_STATEMENT_BYTES`]) they take one by one. [`unpack`] restores each message
//! exactly as serde serialises the object on its own: compact, keys in the listed (sorted)
//! order. It also reads the plain JSON array of messages that earlier versions wrote, so rows
//! left in the outbox across an upgrade are published as they were meant.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Packs `bodies` — each serialising to an object with the same keys, as a struct without
/// `skip_serializing_if` fields does — into payloads of at most about `max_bytes` each (a
/// single larger message gets a payload of its own).
pub fn pack<T: Serialize>(bodies: &[T], max_bytes: usize) -> Vec<Vec<u8>> {
    let objects: Vec<Map<String, Value>> = bodies
        .iter()
        .map(|b| match serde_json::to_value(b).expect("messages serialise") {
            Value::Object(o) => o,
            other => panic!("split messages are JSON objects, not {other}"),
        })
        .collect();
    let Some(first) = objects.first() else { return Vec::new() };
    let keys: Vec<&String> = first.keys().collect();
    debug_assert!(objects.iter().all(|o| o.len() == keys.len() && keys.iter().all(|k| o.contains_key(*k))));
    let shared: Map<String, Value> = first
        .iter()
        .filter(|(k, v)| objects.iter().all(|o| o.get(*k) == Some(v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let own: Vec<&String> = keys.iter().copied().filter(|k| !shared.contains_key(*k)).collect();
    let head = format!(
        r#"{{"keys":{},"shared":{},"rows":["#,
        serde_json::to_string(&keys).expect("keys serialise"),
        serde_json::to_string(&shared).expect("values serialise")
    );
    let mut payloads = Vec::new();
    let mut current = head.clone().into_bytes();
    let mut rows_in_current = 0;
    for o in &objects {
        let row: Vec<&Value> = own.iter().map(|k| o.get(k.as_str()).unwrap_or(&Value::Null)).collect();
        let row = serde_json::to_vec(&row).expect("values serialise");
        if rows_in_current > 0 && current.len() + row.len() + 3 > max_bytes {
            current.extend_from_slice(b"]}");
            payloads.push(std::mem::replace(&mut current, head.clone().into_bytes()));
            rows_in_current = 0;
        }
        if rows_in_current > 0 {
            current.push(b',');
        }
        current.extend_from_slice(&row);
        rows_in_current += 1;
    }
    current.extend_from_slice(b"]}");
    payloads.push(current);
    payloads
}

/// The messages of a split row's `payload`, each a JSON object as serde writes it.
pub fn unpack(payload: &[u8]) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    if payload.first() == Some(&b'[') {
        // Written by an earlier version: the messages themselves, in an array.
        let items: Vec<&RawValue> = serde_json::from_slice(payload)?;
        return Ok(items.iter().map(|i| i.get().as_bytes().to_vec()).collect());
    }
    #[derive(serde::Deserialize)]
    struct Packed<'a> {
        keys: Vec<String>,
        shared: Map<String, Value>,
        #[serde(borrow)]
        rows: Vec<Vec<&'a RawValue>>,
    }
    let packed: Packed<'_> = serde_json::from_slice(payload)?;
    let keys: Vec<(String, Option<String>)> = packed
        .keys
        .iter()
        .map(|k| {
            let key = serde_json::to_string(k)?;
            let shared = packed.shared.get(k).map(serde_json::to_string).transpose()?;
            Ok((key, shared))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    let own = keys.iter().filter(|(_, shared)| shared.is_none()).count();
    packed
        .rows
        .iter()
        .map(|row| {
            if row.len() != own {
                return Err(serde::de::Error::custom(format!("a row of {} values for {own} keys", row.len())));
            }
            let mut values = row.iter();
            let mut out = Vec::with_capacity(128);
            out.push(b'{');
            for (i, (key, shared)) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(key.as_bytes());
                out.push(b':');
                let value = match shared {
                    Some(v) => v.as_str(),
                    None => values.next().map(|v| v.get()).unwrap_or("null"),
                };
                out.extend_from_slice(value.as_bytes());
            }
            out.push(b'}');
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Event {
        process_instance_id: String,
        batch_id: String,
        delete_reason: Option<String>,
        tenant_id: Option<String>,
        note: String,
    }

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                process_instance_id: format!("pi-{i}"),
                batch_id: "batch-1".into(),
                delete_reason: Some("clean \"up\"".into()),
                tenant_id: (i % 2 == 0).then(|| "A".into()),
                note: "ü\u{0}\n".into(),
            })
            .collect()
    }

    #[test]
    fn unpacking_gives_each_message_as_serde_writes_it() {
        let bodies = events(5);
        let payloads = pack(&bodies, 8 * 1024);
        assert_eq!(payloads.len(), 1);
        let text = String::from_utf8(payloads[0].clone()).unwrap();
        assert!(
            text.contains(r#""shared":{"batchId":"batch-1","deleteReason":"clean \"up\"","note":"ü\u0000\n"}"#),
            "{text}"
        );
        let expected: Vec<Vec<u8>> =
            bodies.iter().map(|b| serde_json::to_vec(&serde_json::to_value(b).unwrap()).unwrap()).collect();
        assert_eq!(unpack(&payloads[0]).unwrap(), expected);
    }

    #[test]
    fn payloads_stay_below_the_bound_and_keep_every_message_in_order() {
        let bodies = events(500);
        let payloads = pack(&bodies, 2048);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= 2048), "{:?}", payloads.iter().map(Vec::len).collect::<Vec<_>>());
        let ids: Vec<String> = payloads
            .iter()
            .flat_map(|p| unpack(p).unwrap())
            .map(|m| serde_json::from_slice::<Value>(&m).unwrap()["processInstanceId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, (0..500).map(|i| format!("pi-{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_of_events_takes_about_a_third_of_the_bytes() {
        let bodies = events(100);
        let packed: usize = pack(&bodies, usize::MAX).iter().map(Vec::len).sum();
        let plain = serde_json::to_vec(&bodies).unwrap().len();
        assert!(packed * 2 < plain, "packed {packed} bytes, one by one {plain}");
    }

    #[test]
    fn rows_of_earlier_versions_and_damaged_rows() {
        let old = br#"[{"a":1},{"a":2}]"#;
        assert_eq!(unpack(old).unwrap(), vec![br#"{"a":1}"#.to_vec(), br#"{"a":2}"#.to_vec()]);
        assert!(unpack(br#"{"keys":["a","b"],"shared":{},"rows":[[1]]}"#).is_err());
        assert!(unpack(b"not json").is_err());
        assert!(pack::<Event>(&[], 100).is_empty());
    }
}
