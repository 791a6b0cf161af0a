//! Owns the progress display of long commands on stderr.
//! It must not affect what a command does; hidden, it does nothing.
//!
//! Progress of a long command (`strife-gen build`): a bar on stderr when it is a terminal, a
//! few plain log lines otherwise (CI logs, cron mails), nothing for background builds.
//!
//! Log lines and the bar share stderr: [`stderr_log_writer`] hides the bar while a line is
//! written, so lines never tear through it.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar currently on screen, if any, for [`stderr_log_writer`].
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How many log lines a stage writes at most in plain mode (one per tenth of the work).
const LOG_STEPS: u64 = 10;

/// Reports how far a command is; cheap to call from many threads at once.
pub struct Progress {
    mode: Mode,
}

enum Mode {
    Hidden,
    Bar(Mutex<Option<ProgressBar>>),
    Log(Mutex<LogState>),
}

#[derive(Default)]
struct LogState {
    stage: &'static str,
    total: u64,
    done: u64,
    next_report: u64,
}

impl Progress {
    /// Reports nothing.
    pub(crate) fn hidden() -> Progress {
        Progress { mode: Mode::Hidden }
    }

    /// A bar when stderr is a terminal, log lines otherwise.
    pub(crate) fn for_stderr() -> Progress {
        if io::stderr().is_terminal() {
            Progress::bar()
        } else {
            Progress::log_lines()
        }
    }

    /// Always a bar (drawn only when stderr is a terminal).
    pub(crate) fn bar() -> Progress {
        Progress {
            mode: Mode::Bar(Mutex::new(None)),
        }
    }

    /// Always log lines: a stage's start and every tenth of it.
    pub(crate) fn log_lines() -> Progress {
        Progress {
            mode: Mode::Log(Mutex::new(LogState::default())),
        }
    }

    /// Begins a stage of `total` steps (`stage` reads like "refreshing users").
    pub(crate) fn start(&self, stage: &'static str, total: u64) {
        match &self.mode {
            Mode::Hidden => {}
            Mode::Bar(slot) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                    .with_style(bar_style())
                    .with_prefix(stage);
                let previous = lock(slot).replace(bar.clone());
                if let Some(previous) = previous {
                    previous.finish_and_clear();
                }
                *lock(&ACTIVE_BAR) = Some(bar);
            }
            Mode::Log(state) => {
                *lock(state) = LogState {
                    stage,
                    total,
                    done: 0,
                    next_report: step(total),
                };
                tracing::info!("{stage}: 0 of {total}");
            }
        }
    }

    /// One step of the current stage is done.
    pub(crate) fn tick(&self) {
        match &self.mode {
            Mode::Hidden => {}
            Mode::Bar(slot) => {
                if let Some(bar) = lock(slot).as_ref() {
                    bar.inc(1);
                }
            }
            Mode::Log(state) => {
                let mut state = lock(state);
                state.done += 1;
                if state.done >= state.next_report {
                    state.next_report = state.done + step(state.total);
                    tracing::info!("{}: {} of {}", state.stage, state.done, state.total);
                }
            }
        }
    }

    /// Ends the current stage; the bar disappears.
    pub(crate) fn finish(&self) {
        if let Mode::Bar(slot) = &self.mode {
            if let Some(bar) = lock(slot).take() {
                bar.finish_and_clear();
                *lock(&ACTIVE_BAR) = None;
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} ({elapsed})")
        .expect("the template is valid")
        .progress_chars("=> ")
}

/// Steps between two log lines: a tenth of the stage, at least one.
fn step(total: u64) -> u64 {
    (total / LOG_STEPS).max(1)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// For `tracing_subscriber::fmt().with_writer(...)`: stderr, with the progress bar (if one is
/// shown) hidden while each log line is written.
pub fn stderr_log_writer() -> SuspendingStderr {
    SuspendingStderr { line: Vec::new() }
}

/// Collects one log event and writes it at once when dropped (see [`stderr_log_writer`]).
pub struct SuspendingStderr {
    line: Vec<u8>,
}

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SuspendingStderr {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let bar = lock(&ACTIVE_BAR).clone();
        // Logging must never fail the program: a closed stderr loses the line.
        let write = || {
            let _ = io::stderr().lock().write_all(&self.line);
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_steps_are_a_tenth_at_least_one() {
        assert_eq!(step(0), 1);
        assert_eq!(step(5), 1);
        assert_eq!(step(100), 10);
        assert_eq!(step(1005), 100);
    }

    #[test]
    fn every_mode_survives_any_sequence_of_calls() {
        for progress in [Progress::hidden(), Progress::bar(), Progress::log_lines()] {
            progress.tick();
            progress.finish();
            progress.start("refreshing users", 3);
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| progress.tick());
                }
            });
            progress.start("writing pages", 0);
            progress.finish();
            progress.finish();
        }
        assert!(lock(&ACTIVE_BAR).is_none(), "a finished bar is not active");
    }

    #[test]
    fn log_lines_count_steps() {
        let progress = Progress::log_lines();
        progress.start("writing pages", 20);
        for _ in 0..7 {
            progress.tick();
        }
        let Mode::Log(state) = &progress.mode else {
            unreachable!()
        };
        let state = lock(state);
        assert_eq!((state.done, state.next_report), (7, 8));
    }
}
