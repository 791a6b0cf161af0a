//! Owns the queue of background work for `serve` and the status of each job.
//! It must not build, refresh or revoke itself: the service runs each batch.
//!
//! The one job queue of `serve`: webhooks, the schedule and in-process triggers (a consent, a
//! deletion) all ask for work here, and two worker loops turn it into builds: one refreshes
//! (from Discord, at Discord's pace: minutes for a large site) and one renders from the store
//! (revocations, consents, deletions: about a second). Each kind of work has its own loop so
//! that a consent's page never waits for a refresh of everyone; the builds themselves take
//! turns at the output folder (the build lock).
//!
//! Pending work is a set, not a list: a flag for "everyone", the users to refresh, the users to
//! revoke, and a flag for "render". Triggers that arrive while a build runs accumulate into the
//! next one, so a burst of a thousand hooks costs at most two builds, and the same user asked for
//! twice is refreshed once. Callers that want to follow their work get a job id; the job records
//! which build served it and how that went.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::build::BuildSummary;
use crate::discord::models::Snowflake;

/// Job records kept for `GET /webhooks/jobs/<id>`; the oldest are forgotten beyond this.
const MAX_JOBS: usize = 10_000;
/// Users named for refresh kept at most per build; beyond this the build refreshes everyone due.
const MAX_PENDING_USERS: usize = 10_000;

/// Something to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Refresh every user who is due, then render.
    Everyone,
    /// Refresh this user (if active), then render.
    Refresh(Snowflake),
    /// Discord says this user removed the app at `at` (Unix seconds): revoke them, then render.
    Revoke {
        /// The user concerned.
        user: Snowflake,
        /// When, in Unix seconds, if Discord said.
        at: Option<i64>,
    },
    /// Render from the stored snapshots.
    Render,
}

/// Which worker loop does a piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Track {
    /// Refreshes from Discord, then a render: [`Trigger::Everyone`] and [`Trigger::Refresh`].
    Refresh,
    /// Revocations, then a render from the store: [`Trigger::Revoke`] and [`Trigger::Render`].
    Render,
}

impl Track {
    const BOTH: [Track; 2] = [Track::Refresh, Track::Render];

    fn index(self) -> usize {
        match self {
            Track::Refresh => 0,
            Track::Render => 1,
        }
    }
}

impl Trigger {
    fn track(self) -> Track {
        match self {
            Trigger::Everyone | Trigger::Refresh(_) => Track::Refresh,
            Trigger::Revoke { .. } | Trigger::Render => Track::Render,
        }
    }
}

/// The coalesced work of one build (of one track: the other's fields are empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    pub(crate) everyone: bool,
    pub(crate) refresh: Vec<Snowflake>,
    pub(crate) revoke: Vec<(Snowflake, Option<i64>)>,
    pub(crate) render: bool,
}

#[derive(Default)]
struct Pending {
    everyone: bool,
    refresh: BTreeSet<Snowflake>,
    revoke: BTreeMap<Snowflake, Option<i64>>,
    render: bool,
    /// The ids of the jobs waiting, by [`Track::index`].
    jobs: [VecDeque<String>; 2],
}

impl Pending {
    fn add(&mut self, trigger: Trigger) {
        match trigger {
            Trigger::Everyone => self.everyone = true,
            Trigger::Refresh(user) if self.refresh.len() < MAX_PENDING_USERS => {
                self.refresh.insert(user);
            }
            Trigger::Refresh(_) => self.everyone = true,
            Trigger::Revoke { user, at } => {
                let entry = self.revoke.entry(user).or_insert(at);
                *entry = merge_revocations(*entry, at);
            }
            Trigger::Render => self.render = true,
        }
    }

    /// Adds a whole batch back, merged with what was queued meanwhile.
    fn add_batch(&mut self, batch: Batch) {
        if batch.everyone {
            self.add(Trigger::Everyone);
        }
        for user in batch.refresh {
            self.add(Trigger::Refresh(user));
        }
        for (user, at) in batch.revoke {
            self.add(Trigger::Revoke { user, at });
        }
        if batch.render {
            self.add(Trigger::Render);
        }
    }

    fn is_empty(&self, track: Track) -> bool {
        match track {
            Track::Refresh => !self.everyone && self.refresh.is_empty(),
            Track::Render => !self.render && self.revoke.is_empty(),
        }
    }

    /// The work of `track`, leaving the other track's.
    fn take(&mut self, track: Track) -> (Batch, Vec<String>) {
        let jobs = std::mem::take(&mut self.jobs[track.index()]).into();
        let batch = match track {
            Track::Refresh => Batch {
                everyone: std::mem::take(&mut self.everyone),
                refresh: std::mem::take(&mut self.refresh).into_iter().collect(),
                ..Batch::default()
            },
            Track::Render => Batch {
                revoke: std::mem::take(&mut self.revoke).into_iter().collect(),
                render: std::mem::take(&mut self.render),
                ..Batch::default()
            },
        };
        (batch, jobs)
    }
}

/// Of two revocation events for one user, the later one decides whether it is stale; one without
/// a timestamp revokes regardless, so it wins over any timestamp.
fn merge_revocations(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
/// Where a job is.
pub enum JobState {
    /// Waiting for the next build.
    Queued,
    /// Its build is running.
    Running,
    /// Its build finished.
    Done,
    /// Its build failed (see `error`).
    Failed,
}

/// What `GET /webhooks/jobs/<id>` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    pub(crate) id: String,
    /// Where the job is.
    pub state: JobState,
    /// The user asked for, or none for everyone.
    pub(crate) user: Option<Snowflake>,
    /// The number of the build that serves this job, once it started.
    pub(crate) build: Option<u64>,
    pub(crate) queued_at: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    /// Totals of the serving build (refreshed users, changed, needing re-consent, failed,
    /// profiles rendered), once it is done.
    pub(crate) counts: Option<JobCounts>,
    pub(crate) error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct JobCounts {
    pub(crate) refreshed: usize,
    pub(crate) changed: usize,
    pub(crate) needs_reconsent: usize,
    pub(crate) failed: usize,
    pub(crate) profiles: usize,
}

impl JobCounts {
    fn of(summary: &BuildSummary) -> JobCounts {
        let refresh = summary.refresh.clone().unwrap_or_default();
        JobCounts {
            refreshed: refresh.refreshed,
            changed: refresh.changed,
            needs_reconsent: refresh.needs_reconsent,
            failed: refresh.failed,
            profiles: summary.profiles,
        }
    }
}

#[derive(Default)]
struct State {
    pending: Pending,
    jobs: HashMap<String, JobStatus>,
    /// Job ids, oldest first, for forgetting the oldest.
    order: VecDeque<String>,
}

impl State {
    fn remember(&mut self, job: JobStatus, track: Track) {
        while self.order.len() >= MAX_JOBS {
            if let Some(old) = self.order.pop_front() {
                self.jobs.remove(&old);
            }
        }
        self.order.push_back(job.id.clone());
        let waiting = &mut self.pending.jobs[track.index()];
        if waiting.len() >= MAX_JOBS {
            waiting.pop_front();
        }
        waiting.push_back(job.id.clone());
        self.jobs.insert(job.id.clone(), job);
    }

    fn update(&mut self, ids: &[String], change: impl Fn(&mut JobStatus)) {
        for id in ids {
            if let Some(job) = self.jobs.get_mut(id) {
                change(job);
            }
        }
    }
}

struct Inner {
    state: Mutex<State>,
    /// Wakes the worker loop of each track, by [`Track::index`].
    wake: [Notify; 2],
    builds: AtomicU64,
    /// Set by [`JobQueue::shutdown`]: the workers start no further batch.
    stopping: AtomicBool,
    /// How many batches are running (at most one per track).
    running: AtomicUsize,
}

/// A handle on the queue; clones share it.
#[derive(Clone)]
pub struct JobQueue {
    inner: Arc<Inner>,
}

impl Default for JobQueue {
    fn default() -> Self {
        JobQueue::new()
    }
}

impl JobQueue {
    pub(crate) fn new() -> JobQueue {
        JobQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                wake: [Notify::new(), Notify::new()],
                builds: AtomicU64::new(0),
                stopping: AtomicBool::new(false),
                running: AtomicUsize::new(0),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds work for the next build.
    pub fn trigger(&self, trigger: Trigger) {
        self.state().pending.add(trigger);
        self.wake(trigger.track());
    }

    fn wake(&self, track: Track) {
        // A stored permit: the worker wakes even if it is not waiting yet.
        self.inner.wake[track.index()].notify_one();
    }

    /// Adds work for the next build and returns a job id to follow it with.
    pub fn submit(&self, trigger: Trigger) -> String {
        let id = new_job_id();
        let user = match trigger {
            Trigger::Refresh(user) | Trigger::Revoke { user, .. } => Some(user),
            Trigger::Everyone | Trigger::Render => None,
        };
        {
            let mut state = self.state();
            state.remember(
                JobStatus {
                    id: id.clone(),
                    state: JobState::Queued,
                    user,
                    build: None,
                    queued_at: now_text(),
                    started_at: None,
                    finished_at: None,
                    counts: None,
                    error: None,
                },
                trigger.track(),
            );
            state.pending.add(trigger);
        }
        self.wake(trigger.track());
        id
    }

    /// Puts a batch back in the queue (a build that could not run it asks for it again later).
    /// Nothing is lost: it merges with whatever was queued meanwhile.
    pub(crate) fn requeue(&self, batch: Batch) {
        self.state().pending.add_batch(batch);
        Track::BOTH.into_iter().for_each(|track| self.wake(track));
    }

    /// Tells the worker to stop: the batch it is running (if any) finishes, no further one starts
    /// and [`JobQueue::run`] returns. Work queued and not started stays unrun.
    pub(crate) fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        Track::BOTH.into_iter().for_each(|track| self.wake(track));
    }

    /// Whether [`JobQueue::shutdown`] was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// Whether a worker is running a batch right now.
    pub fn is_building(&self) -> bool {
        self.inner.running.load(Ordering::SeqCst) > 0
    }

    /// Whether no batch runs and none is queued: every job submitted so far has finished.
    pub fn is_idle(&self) -> bool {
        // Under the state lock, which batches start and finish under: never between the two.
        let state = self.state();
        !self.is_building() && Track::BOTH.iter().all(|&t| state.pending.is_empty(t))
    }

    /// The status of job `id`, while it is remembered.
    pub fn status(&self, id: &str) -> Option<JobStatus> {
        self.state().jobs.get(id).cloned()
    }

    /// How many builds the worker has started.
    pub fn builds(&self) -> u64 {
        self.inner.builds.load(Ordering::SeqCst)
    }

    /// The workers: each track's loop waits for its work (the refresh's also for the schedule,
    /// which triggers [`Trigger::Everyone`] at once and then every `schedule`), takes everything
    /// pending for it and hands it to `execute` as one batch. The two loops run at the same
    /// time. Runs until [`JobQueue::shutdown`] (finishing the batches in progress) or until the
    /// task is dropped.
    pub(crate) async fn run<F, Fut, E>(&self, schedule: Option<Duration>, execute: F)
    where
        F: Fn(Batch) -> Fut,
        Fut: Future<Output = Result<BuildSummary, E>>,
        E: std::fmt::Display,
    {
        tokio::join!(
            self.run_track(Track::Refresh, schedule, &execute),
            self.run_track(Track::Render, None, &execute),
        );
        let state = self.state();
        if !Track::BOTH.iter().all(|&t| state.pending.is_empty(t)) {
            tracing::warn!(
                everyone = state.pending.everyone,
                refreshes = state.pending.refresh.len(),
                revocations = state.pending.revoke.len(),
                "stopped with queued work that did not run"
            );
        }
    }

    async fn run_track<F, Fut, E>(&self, track: Track, schedule: Option<Duration>, execute: &F)
    where
        F: Fn(Batch) -> Fut,
        Fut: Future<Output = Result<BuildSummary, E>>,
        E: std::fmt::Display,
    {
        let mut ticks = schedule.map(|every| {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        while !self.is_stopping() {
            let tick = async {
                match ticks.as_mut() {
                    Some(ticks) => ticks.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick => self.state().pending.add(Trigger::Everyone),
                _ = self.inner.wake[track.index()].notified() => {}
            }
            let Some((batch, jobs, number)) = self.start_batch(track) else {
                continue;
            };
            let result = execute(batch).await;
            self.finish_batch(&jobs, result);
            tracing::debug!("build {number} finished");
        }
    }

    fn start_batch(&self, track: Track) -> Option<(Batch, Vec<String>, u64)> {
        let mut state = self.state();
        // Checked under the lock with the pending work, so no batch starts after `shutdown`.
        if self.is_stopping() || state.pending.is_empty(track) {
            return None;
        }
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        let (batch, jobs) = state.pending.take(track);
        let number = self.inner.builds.fetch_add(1, Ordering::SeqCst) + 1;
        let started = now_text();
        state.update(&jobs, |job| {
            job.state = JobState::Running;
            job.build = Some(number);
            job.started_at = Some(started.clone());
        });
        Some((batch, jobs, number))
    }

    /// Records how a batch ended; a failure is kept as its message, which is what the job's
    /// JSON shows.
    fn finish_batch<E: std::fmt::Display>(&self, jobs: &[String], result: Result<BuildSummary, E>) {
        let finished = now_text();
        let mut state = self.state();
        self.inner.running.fetch_sub(1, Ordering::SeqCst);
        state.update(jobs, |job| {
            job.finished_at = Some(finished.clone());
            match &result {
                Ok(summary) => {
                    job.state = JobState::Done;
                    job.counts = Some(JobCounts::of(summary));
                }
                Err(error) => {
                    job.state = JobState::Failed;
                    job.error = Some(error.to_string());
                }
            }
        });
    }
}

/// 128 random bits, hex: unguessable, so the status of someone else's job cannot be probed.
fn new_job_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::{mpsc, oneshot};

    /// A build in progress: its batch, and the sender that finishes it.
    type GatedBuild = (Batch, oneshot::Sender<Result<BuildSummary, String>>);

    /// A worker whose builds record their batch and then wait for the test's go-ahead.
    fn gated_worker(
        queue: &JobQueue,
    ) -> (
        tokio::task::JoinHandle<()>,
        mpsc::UnboundedReceiver<GatedBuild>,
    ) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let worker = {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .run(None, move |batch| {
                        let (done, wait) = oneshot::channel();
                        sender.send((batch, done)).unwrap();
                        async move { wait.await.unwrap() }
                    })
                    .await
            })
        };
        (worker, receiver)
    }

    /// The next build the worker starts, waited for at most a few seconds.
    async fn next_build(builds: &mut mpsc::UnboundedReceiver<GatedBuild>) -> GatedBuild {
        tokio::time::timeout(Duration::from_secs(5), builds.recv())
            .await
            .expect("a build starts")
            .unwrap()
    }

    /// Waits (bounded) until job `id` is in `state`.
    async fn until_state(queue: &JobQueue, id: &str, state: JobState) {
        for _ in 0..200 {
            if queue.status(id).unwrap().state == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} never reached {state:?}");
    }

    #[tokio::test]
    async fn triggers_during_a_build_coalesce_into_the_next_one() {
        let queue = JobQueue::new();
        let (worker, mut builds) = gated_worker(&queue);
        let first_job = queue.submit(Trigger::Refresh(Snowflake(1)));
        let (batch, finish_first) = builds.recv().await.unwrap();
        assert_eq!(batch.refresh, [Snowflake(1)]);
        assert_eq!(queue.status(&first_job).unwrap().state, JobState::Running);

        // While the first build runs, a burst arrives.
        let mut ids = Vec::new();
        for n in 0..1000u64 {
            ids.push(queue.submit(Trigger::Refresh(Snowflake(n % 3))));
        }
        assert_eq!(queue.status(&ids[0]).unwrap().state, JobState::Queued);
        finish_first.send(Ok(BuildSummary::default())).unwrap();

        let (batch, finish_second) = builds.recv().await.unwrap();
        assert_eq!(
            batch,
            Batch {
                refresh: vec![Snowflake(0), Snowflake(1), Snowflake(2)],
                ..Batch::default()
            }
        );
        finish_second.send(Err("disk full".into())).unwrap();
        until_state(&queue, &ids[999], JobState::Failed).await;
        assert_eq!(queue.builds(), 2);
        let first = queue.status(&first_job).unwrap();
        assert_eq!((first.state, first.build), (JobState::Done, Some(1)));
        assert!(first.counts.is_some() && first.finished_at.is_some());
        let last = queue.status(&ids[999]).unwrap();
        assert_eq!((last.state, last.build), (JobState::Failed, Some(2)));
        assert_eq!(last.error.as_deref(), Some("disk full"));
        assert!(builds.try_recv().is_err(), "no third build");
        worker.abort();
    }

    #[tokio::test]
    async fn a_render_does_not_wait_for_a_running_refresh() {
        let queue = JobQueue::new();
        let (worker, mut builds) = gated_worker(&queue);
        let refresh = queue.submit(Trigger::Everyone);
        let (batch, finish_refresh) = next_build(&mut builds).await;
        assert!(batch.everyone);

        // A consent and two revocations while everyone is being refreshed: their render starts
        // now, not after the refresh.
        let render = queue.submit(Trigger::Render);
        for at in [Some(5), Some(3)] {
            queue.trigger(Trigger::Revoke {
                user: Snowflake(7),
                at,
            });
        }
        let (batch, finish_render) = next_build(&mut builds).await;
        assert!(batch.render && !batch.everyone && batch.refresh.is_empty());
        assert_eq!(batch.revoke, [(Snowflake(7), Some(5))]);
        assert_eq!(queue.status(&refresh).unwrap().state, JobState::Running);
        finish_render.send(Ok(BuildSummary::default())).unwrap();
        until_state(&queue, &render, JobState::Done).await;
        assert_eq!(queue.status(&refresh).unwrap().state, JobState::Running);

        // Each track's burst still coalesces: one more render for many requests.
        for _ in 0..50 {
            queue.trigger(Trigger::Render);
        }
        let (batch, finish) = next_build(&mut builds).await;
        assert!(batch.render && batch.revoke.is_empty());
        finish.send(Ok(BuildSummary::default())).unwrap();
        finish_refresh.send(Ok(BuildSummary::default())).unwrap();
        until_state(&queue, &refresh, JobState::Done).await;
        assert_eq!(queue.builds(), 3);
        assert!(builds.try_recv().is_err(), "no fourth build");
        worker.abort();
    }

    #[tokio::test]
    async fn the_schedule_refreshes_everyone() {
        let queue = JobQueue::new();
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let worker = {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .run(Some(Duration::from_secs(3600)), move |batch| {
                        sender.send(batch).unwrap();
                        async { Ok::<_, String>(BuildSummary::default()) }
                    })
                    .await
            })
        };
        // The first tick is immediate: a full refresh at start.
        let batch = receiver.recv().await.unwrap();
        assert!(batch.everyone);
        worker.abort();
    }

    #[test]
    fn a_revocation_without_timestamp_wins_over_one_with() {
        let user = Snowflake(7);
        for events in [[None, Some(5)], [Some(5), None]] {
            let mut pending = Pending::default();
            for at in events {
                pending.add(Trigger::Revoke { user, at });
            }
            assert_eq!(pending.revoke[&user], None, "{events:?}");
        }
        let mut pending = Pending::default();
        for at in [Some(3), Some(5), Some(4)] {
            pending.add(Trigger::Revoke { user, at });
        }
        assert_eq!(pending.revoke[&user], Some(5), "the latest event decides");
    }

    #[test]
    fn a_requeued_batch_merges_with_what_was_queued_meanwhile() {
        let queue = JobQueue::new();
        queue.trigger(Trigger::Refresh(Snowflake(9)));
        queue.trigger(Trigger::Revoke {
            user: Snowflake(1),
            at: Some(10),
        });
        queue.requeue(Batch {
            everyone: true,
            refresh: vec![Snowflake(2)],
            revoke: vec![(Snowflake(1), None), (Snowflake(3), Some(4))],
            render: true,
        });
        let (batch, _, _) = queue.start_batch(Track::Refresh).unwrap();
        assert_eq!(
            batch,
            Batch {
                everyone: true,
                refresh: vec![Snowflake(2), Snowflake(9)],
                ..Batch::default()
            }
        );
        let (batch, _, _) = queue.start_batch(Track::Render).unwrap();
        assert_eq!(
            batch,
            Batch {
                revoke: vec![(Snowflake(1), None), (Snowflake(3), Some(4))],
                render: true,
                ..Batch::default()
            }
        );
    }

    #[tokio::test]
    async fn shutdown_lets_the_running_build_finish_and_starts_no_other() {
        let queue = JobQueue::new();
        let (worker, mut builds) = gated_worker(&queue);
        let running = queue.submit(Trigger::Render);
        let (_, finish) = builds.recv().await.unwrap();
        assert!(queue.is_building());
        // Queued behind the running render (a refresh would start beside it).
        let waiting = queue.submit(Trigger::Revoke {
            user: Snowflake(1),
            at: None,
        });

        queue.shutdown();
        assert!(queue.is_stopping());
        // Shutting down is idempotent, and the worker does not stop under the running build.
        queue.shutdown();
        tokio::task::yield_now().await;
        assert!(!worker.is_finished(), "the running build is not abandoned");
        finish.send(Ok(BuildSummary::default())).unwrap();
        worker.await.expect("the worker returns after its build");

        assert_eq!(queue.status(&running).unwrap().state, JobState::Done);
        assert_eq!(queue.status(&waiting).unwrap().state, JobState::Queued);
        assert!(builds.try_recv().is_err(), "no build after the shutdown");
        assert!(!queue.is_building());
        assert_eq!(queue.builds(), 1);
    }

    #[tokio::test]
    async fn an_idle_worker_stops_at_once_on_shutdown() {
        let queue = JobQueue::new();
        let (worker, _builds) = gated_worker(&queue);
        queue.shutdown();
        worker.await.unwrap();
        assert_eq!(queue.builds(), 0);
    }

    #[test]
    fn pending_work_is_bounded() {
        let mut pending = Pending::default();
        for n in 0..(MAX_PENDING_USERS as u64 + 5) {
            pending.add(Trigger::Refresh(Snowflake(n)));
        }
        assert_eq!(pending.refresh.len(), MAX_PENDING_USERS);
        assert!(
            pending.everyone,
            "the overflow turns into a refresh of everyone"
        );

        let mut state = State::default();
        for _ in 0..(MAX_JOBS + 10) {
            let id = new_job_id();
            let job = JobStatus {
                id,
                state: JobState::Queued,
                user: None,
                build: None,
                queued_at: String::new(),
                started_at: None,
                finished_at: None,
                counts: None,
                error: None,
            };
            state.remember(job, Track::Render);
        }
        assert_eq!(state.jobs.len(), MAX_JOBS);
        assert_eq!(state.pending.jobs[Track::Render.index()].len(), MAX_JOBS);
    }

    #[test]
    fn job_ids_are_unguessable_hex() {
        let (a, b) = (new_job_id(), new_job_id());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
