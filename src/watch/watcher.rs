//! Owns notify's watcher and its bridge to tokio.
//! It must not interpret changes; `changes` does that.
//!
//! File watching for `watch`: notify's debounced watcher, bridged to tokio through a channel.
//!
//! The debouncer runs on its own thread and hands us batches of changed paths; the watch loop
//! decides what they mean (see `super::changes`). Reads (`Access` events) are dropped here:
//! every build opens the templates, and those opens must not trigger the next build.

use std::path::PathBuf;
use std::time::Duration;

use notify_debouncer_full::notify::{self, EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use tokio::sync::mpsc;

/// How long a path must stay quiet before its events are delivered: long enough to merge an
/// editor's delete + create + write of one save, short enough to feel immediate.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// One delivery of the debouncer.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ChangeBatch {
    /// Every path named by a create, modify, rename or remove event.
    pub(crate) paths: Vec<PathBuf>,
    /// The OS dropped events (queue overflow): anything may have changed.
    pub(crate) rescan: bool,
}

impl ChangeBatch {
    /// Adds `other`'s changes to this batch.
    pub(crate) fn merge(&mut self, other: ChangeBatch) {
        self.paths.extend(other.paths);
        self.rescan |= other.rescan;
    }
}

/// One folder or file to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) path: PathBuf,
    pub(crate) recursive: bool,
}

impl Target {
    fn mode(&self) -> RecursiveMode {
        match self.recursive {
            true => RecursiveMode::Recursive,
            false => RecursiveMode::NonRecursive,
        }
    }
}

/// Watches a set of [`Target`]s; changes arrive on the receiver returned by [`SourceWatcher::start`].
pub(crate) struct SourceWatcher {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    watching: Vec<Target>,
    /// Targets that do not exist (yet): tried again by [`SourceWatcher::retry_missing`].
    missing: Vec<Target>,
}

impl SourceWatcher {
    pub(crate) fn start() -> notify::Result<(SourceWatcher, mpsc::UnboundedReceiver<ChangeBatch>)> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            if let Some(batch) = to_batch(result) {
                // The receiver is gone only while watch is shutting down.
                let _ = sender.send(batch);
            }
        })?;
        let watcher = SourceWatcher {
            debouncer,
            watching: Vec::new(),
            missing: Vec::new(),
        };
        Ok((watcher, receiver))
    }

    /// Watches exactly `targets` from now on: stops watching what is no longer wanted, starts
    /// on what is new. A target that does not exist is remembered and retried later; any other
    /// failure is returned (and the remaining targets are still set up).
    pub(crate) fn set_targets(&mut self, targets: &[Target]) -> notify::Result<()> {
        for old in std::mem::take(&mut self.watching) {
            if targets.contains(&old) {
                self.watching.push(old);
            } else if let Err(error) = self.debouncer.unwatch(&old.path) {
                tracing::debug!("unwatching {}: {error}", old.path.display());
            }
        }
        self.missing.retain(|target| targets.contains(target));
        let mut first_error = None;
        for target in targets {
            if self.watching.contains(target) || self.missing.contains(target) {
                continue;
            }
            if let Err(error) = self.add(target.clone()) {
                first_error.get_or_insert(error);
            } else if self.missing.contains(target) {
                tracing::info!(
                    "{} does not exist yet; it is watched once it is created",
                    target.path.display()
                );
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Tries again to watch targets that did not exist; true when one is watched now (its
    /// contents appeared, so the site should be rebuilt).
    pub(crate) fn retry_missing(&mut self) -> bool {
        let pending = std::mem::take(&mut self.missing);
        let before = self.watching.len();
        for target in pending {
            if let Err(error) = self.add(target) {
                tracing::warn!("{error}");
            }
        }
        self.watching.len() > before
    }

    fn add(&mut self, target: Target) -> notify::Result<()> {
        if !target.path.exists() {
            self.missing.push(target);
            return Ok(());
        }
        match self.debouncer.watch(&target.path, target.mode()) {
            Ok(()) => {
                tracing::debug!("watching {}", target.path.display());
                self.watching.push(target);
                Ok(())
            }
            Err(error) => Err(error.add_path(target.path.clone())),
        }
    }
}

/// Turns one debouncer delivery into a batch of changed paths; `None` when nothing changed
/// (only reads), so idle reads never wake the watch loop.
fn to_batch(result: DebounceEventResult) -> Option<ChangeBatch> {
    let events = match result {
        Ok(events) => events,
        Err(errors) => {
            for error in errors {
                tracing::warn!("file watcher: {error}");
            }
            return None;
        }
    };
    let mut batch = ChangeBatch::default();
    for event in events {
        if event.need_rescan() {
            batch.rescan = true;
        }
        if is_change(&event.kind) {
            batch.paths.extend(event.paths.iter().cloned());
        }
    }
    (batch.rescan || !batch.paths.is_empty()).then_some(batch)
}

fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_target_is_watched_once_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let later = dir.path().join("later");
        let (mut watcher, mut changes) = SourceWatcher::start().unwrap();
        let target = Target {
            path: later.clone(),
            recursive: true,
        };
        watcher.set_targets(&[target]).unwrap();
        assert!(!watcher.retry_missing());
        std::fs::create_dir(&later).unwrap();
        assert!(watcher.retry_missing());
        std::fs::write(later.join("file.txt"), "x").unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(10), changes.recv())
            .await
            .expect("a change within 10 s")
            .unwrap();
        assert!(batch.paths.contains(&later.join("file.txt")), "{batch:?}");
    }
}
