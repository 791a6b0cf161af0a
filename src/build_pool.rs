//! Where builds do their CPU work: a bounded pool of threads of their own, never the async
//! runtime's. It must not know what a build is: it runs closures.
//!
//! Rendering ten thousand pages keeps every core busy for seconds. Under `serve` the same cores
//! answer `/healthz`, `/callback` and webhooks, so there the pool's threads run at a lower
//! scheduling priority ([`Priority::Background`], `nice` 10 on Linux): the kernel then gives the
//! HTTP threads the CPU as soon as they have work, and the build takes whatever is left, which
//! is nearly all of it. Threads a build starts (the profile reader) inherit the priority.
//! `strife-gen build`, with nobody waiting on it, runs at normal priority.

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use crate::fault::Blame;

/// How the pool's threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// As any other thread: nothing else is waiting (the `build` command).
    Normal,
    /// Behind the threads that answer requests (`serve`, `watch`).
    Background,
}

/// The `nice` value of [`Priority::Background`] threads: low enough that a request thread
/// (nice 0, about ten times the weight) is scheduled at once, high enough that the build still
/// has the machine when nothing else runs.
pub const BACKGROUND_NICE: i32 = 10;

/// A failure of the pool itself (not of the work it runs).
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot start the build threads: {0}")]
    /// The threads could not be started.
    Start(String),
    #[error("a build thread panicked: {0}")]
    /// The work panicked; the pool goes on.
    Panicked(String),
    #[error("the build pool stopped before the work finished")]
    /// The work was dropped unfinished.
    Stopped,
}

/// No configuration makes the pool fail: it is the system's doing.
impl Blame for PoolError {
    fn is_users_fault(&self) -> bool {
        false
    }
}

/// A bounded pool of build threads (see the module docs). Cheap to clone: clones share the
/// threads.
#[derive(Clone)]
pub struct BuildPool {
    pool: Arc<rayon::ThreadPool>,
    priority: Priority,
}

impl std::fmt::Debug for BuildPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildPool")
            .field("threads", &self.pool.current_num_threads())
            .field("priority", &self.priority)
            .finish()
    }
}

impl BuildPool {
    /// `threads` threads (named `build-N`) at `priority`.
    pub fn new(threads: NonZeroUsize, priority: Priority) -> Result<BuildPool, PoolError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|at| format!("build-{at}"))
            .start_handler(move |_| set_priority(priority))
            .build()
            .map_err(|e| PoolError::Start(e.to_string()))?;
        Ok(BuildPool {
            pool: Arc::new(pool),
            priority,
        })
    }

    /// The process's pool of normal priority, one thread per core, started on first use and
    /// shared by every service that is not given another ([`crate::service::Service`]).
    pub fn shared() -> Result<BuildPool, PoolError> {
        static SHARED: Mutex<Option<BuildPool>> = Mutex::new(None);
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = &*shared {
            return Ok(pool.clone());
        }
        let pool = BuildPool::per_core(Priority::Normal)?;
        Ok(shared.insert(pool).clone())
    }

    /// One thread per core at `priority`.
    pub fn per_core(priority: Priority) -> Result<BuildPool, PoolError> {
        let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        BuildPool::new(cores, priority)
    }

    /// How many threads the pool has.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The priority its threads run at.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// Runs `work` on the pool (its parallel iterators use the pool too) and waits for it
    /// without holding an async worker or a blocking thread. The caller's log subscriber goes
    /// along (the watch preview and tests set thread-local ones). A panic is an error.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let logs = tracing::dispatcher::get_default(Clone::clone);
        self.pool.spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                tracing::dispatcher::with_default(&logs, work)
            }))
            .map_err(|panic| PoolError::Panicked(panic_text(panic.as_ref())));
            // The caller may have stopped waiting: nothing to tell then.
            let _ = done.send(outcome);
        });
        result.await.map_err(|_| PoolError::Stopped)?
    }
}

/// The text a panic carried, when it was one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Lowers the calling thread's priority for [`Priority::Background`]. Linux keeps a `nice`
/// value per thread; elsewhere `setpriority` would lower the whole process, HTTP threads
/// included, so the priority stays as it is there.
fn set_priority(priority: Priority) {
    if priority == Priority::Normal {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // Never raised: a service already started with `nice` keeps its lower priority.
        let current = rustix::process::getpriority_process(None).unwrap_or(0);
        if current >= BACKGROUND_NICE {
            return;
        }
        if let Err(error) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
            tracing::warn!(%error, "cannot lower the priority of a build thread");
        }
    }
}

/// The scheduling priority of the calling thread (its `nice` value), for tests.
#[cfg(all(test, target_os = "linux"))]
fn current_nice() -> i32 {
    rustix::process::getpriority_process(None).expect("getpriority")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize, priority: Priority) -> BuildPool {
        BuildPool::new(NonZeroUsize::new(threads).unwrap(), priority).unwrap()
    }

    #[tokio::test]
    async fn work_runs_on_the_pool_and_its_parallel_iterators_stay_there() {
        use rayon::prelude::*;
        let pool = pool(2, Priority::Normal);
        let (name, inner_threads) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                let inner: std::collections::BTreeSet<String> = (0..1000)
                    .into_par_iter()
                    .map(|_| std::thread::current().name().unwrap_or("").to_owned())
                    .collect();
                (name, inner)
            })
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("build-")));
        assert!(
            inner_threads.iter().all(|n| n.starts_with("build-")),
            "{inner_threads:?}"
        );
        assert!(inner_threads.len() <= 2);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_threads_and_the_threads_they_start_run_behind_the_callers() {
        let caller = current_nice();
        let pool = pool(1, Priority::Background);
        let (own, spawned) = pool
            .run(|| {
                let spawned = std::thread::scope(|s| s.spawn(current_nice).join().unwrap());
                (current_nice(), spawned)
            })
            .await
            .unwrap();
        // Lowered to BACKGROUND_NICE, or kept where the test already runs lower than that.
        assert_eq!(own, caller.max(BACKGROUND_NICE));
        assert_eq!(spawned, own, "inherited");
        assert_eq!(current_nice(), caller, "the caller is untouched");
        let normal = pool_nice(Priority::Normal).await;
        assert_eq!(normal, caller);
    }

    #[cfg(target_os = "linux")]
    async fn pool_nice(priority: Priority) -> i32 {
        pool(1, priority).run(current_nice).await.unwrap()
    }

    #[tokio::test]
    async fn a_panic_is_an_error_and_the_pool_goes_on() {
        let pool = pool(1, Priority::Normal);
        let err = pool
            .run(|| -> u8 { panic!("theme exploded") })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, PoolError::Panicked(m) if m == "theme exploded"),
            "{err}"
        );
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
