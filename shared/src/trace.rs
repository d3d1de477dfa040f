//! W3C trace context carried through AMQP headers: the API starts (or continues) a trace per
//! request, every message it causes carries a `traceparent`, and workers continue it in the
//! messages they publish, so one deletion can be followed across processes in the logs.

use std::future::Future;

tokio::task_local! {
    static CURRENT: Option<String>;
}

/// A fresh `traceparent` (`00-<trace id>-<span id>-01`).
pub fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

/// A `traceparent` with `parent`'s trace id and a new span id; a fresh one if `parent` is not
/// a valid version-00 `traceparent`.
pub fn child_of(parent: &str) -> String {
    let parts: Vec<&str> = parent.split('-').collect();
    let valid = parts.len() == 4
        && parts[0] == "00"
        && parts[1].len() == 32
        && parts[1].chars().all(|c| c.is_ascii_hexdigit())
        && parts[1] != "00000000000000000000000000000000";
    if !valid {
        return new_traceparent();
    }
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let hex_flags = parts[3].len() == 2 && parts[3].chars().all(|c| c.is_ascii_hexdigit());
    format!("00-{}-{span}-{}", parts[1], if hex_flags { parts[3] } else { "01" })
}

/// The trace id part of a `traceparent`.
pub fn trace_id(traceparent: &str) -> &str {
    traceparent.split('-').nth(1).unwrap_or("")
}

/// Runs `f` with `traceparent` as the current trace context.
pub async fn scope<F: Future>(traceparent: Option<String>, f: F) -> F::Output {
    CURRENT.scope(traceparent, f).await
}

/// A child of the current trace context, for a message about to be published.
pub fn current_child() -> Option<String> {
    CURRENT.try_with(|c| c.as_deref().map(child_of)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_keep_the_trace_id() {
        let root = new_traceparent();
        assert_eq!(root.len(), 55);
        let child = child_of(&root);
        assert_eq!(trace_id(&child), trace_id(&root));
        assert_ne!(child, root);
        assert_ne!(trace_id(&child_of("garbage")), "");
    }

    #[test]
    fn flags_that_are_not_hex_become_sampled() {
        let child = child_of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz");
        assert!(child.starts_with("00-0af7651916cd43dd8448eb211c80319c-") && child.ends_with("-01"), "{child}");
        assert!(child_of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").ends_with("-00"));
        assert_ne!(trace_id(&child_of("00-0af7651916cd43dd8448eb211c8031é-b7ad6b7169203331-01")), "");
    }

    #[tokio::test]
    async fn the_scope_provides_the_context() {
        assert_eq!(current_child(), None);
        let root = new_traceparent();
        let child = scope(Some(root.clone()), async { current_child() }).await.unwrap();
        assert_eq!(trace_id(&child), trace_id(&root));
    }
}
