//! Owns the rule of where a blocking store call may run: on a plain thread, or on a thread of
//! tokio's blocking pool that said so ([`allow_blocking`]: `Store::run` does), never on an async
//! worker thread, where a PostgreSQL call would stall every task on it (and tokio would panic
//! on the nested runtime).

use std::cell::Cell;

use super::StoreError;

thread_local! {
    /// Set while this thread runs work that may block on the store.
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with blocking store calls allowed on this thread: for work moved off the async
/// executor (`spawn_blocking`) that calls the store directly.
pub fn allow_blocking<T>(work: impl FnOnce() -> T) -> T {
    let before = MAY_BLOCK.with(|flag| flag.replace(true));
    // Restored even if `work` unwinds: the pool thread goes on to run other tasks.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            MAY_BLOCK.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(before);
    work()
}

/// Whether a blocking store call may run here: outside any tokio runtime, or inside
/// [`allow_blocking`].
pub(super) fn check() -> Result<(), StoreError> {
    let in_runtime = tokio::runtime::Handle::try_current().is_ok();
    if in_runtime && !MAY_BLOCK.with(Cell::get) {
        return Err(StoreError::AsyncCaller);
    }
    Ok(())
}
