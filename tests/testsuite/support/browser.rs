//! A real headless Chromium for end-to-end tests, driven over the DevTools protocol
//! (`chromiumoxide`, no fetcher: it only ever runs the system's `chromium`, never downloads one).
//!
//! ```ignore
//! let Some(browser) = Browser::launch(&[]).await else { return }; // skipped: no chromium here
//! let tab = browser.new_tab().await;
//! tab.goto(&url).await;
//! tab.click("button[type=submit]").await;
//! tab.wait_for("the next page", "document.querySelector('h1') !== null").await;
//! tab.assert_no_problems("after signing in");
//! ```
//!
//! Every [`Tab`] collects what a developer would see in red in the DevTools console: console
//! errors and failed asserts, uncaught exceptions, error log entries (failed loads, blocked
//! navigations) and Content Security Policy violations (`securitypolicyviolation` events, also
//! reported as console errors). Every wait of a [`Tab`] fails at once, with those messages, as
//! soon as one arrives; [`Tab::assert_no_problems`] checks at the end.
//!
//! It drives the browser only: it serves nothing and knows nothing of strife-gen.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::browser::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel, LogEntrySource};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown, RemoteObject,
};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// axe-core, injected into a page by [`Tab::axe_violations`].
const AXE: &str = include_str!("axe/axe.min.js");

/// axe-core's violations of the page, as `"rule: selectors"`.
const AXE_VIOLATIONS: &str = r#"axe.run(document, {
  runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
}).then((result) => result.violations.map((v) =>
  `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`))"#;

/// The longest any single wait (a navigation, an element, a condition) may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The longest Chromium may take to start (it is slow on a busy machine).
const LAUNCH: Duration = Duration::from_secs(30);
/// How many times a Chromium that does not start is started again before the test fails.
const LAUNCH_ATTEMPTS: usize = 3;
/// How often a condition is checked again while waiting for it.
const POLL: Duration = Duration::from_millis(50);

/// Where Debian (and CI, via `apt-get install chromium`) puts Chromium, then names on `PATH`.
const CANDIDATES: &[&str] = &["/usr/bin/chromium", "chromium", "chromium-browser"];

/// Flags for a quiet, hermetic, headless Chromium as root in a container: no sandbox (root),
/// no GPU, nothing that reaches out to the network by itself (there is none; without these
/// Chromium keeps logging refused connections), no proxy from the environment, no HTTPS upgrade
/// of the tests' plain-HTTP hosts, and no throttling of a page the test is waiting on. Written
/// without the leading `--` (chromiumoxide adds it), values after `=`.
const FLAGS: &[&str] = &[
    "disable-gpu",
    "disable-quic",
    "no-first-run",
    "no-default-browser-check",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-default-apps",
    "disable-domain-reliability",
    "disable-client-side-phishing-detection",
    "disable-breakpad",
    "metrics-recording-only",
    "no-proxy-server",
    "disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,Translate,MediaRouter,OptimizationHints",
    "disable-dev-shm-usage",
    "disable-background-timer-throttling",
    "disable-backgrounding-occluded-windows",
    "disable-renderer-backgrounding",
    "password-store=basic",
];

/// The launch configuration: [`FLAGS`] plus `extra_args`, a fresh profile at `profile`.
fn config(executable: &Path, extra_args: &[String], profile: &Path) -> BrowserConfig {
    let mut builder = BrowserConfig::builder();
    for flag in FLAGS
        .iter()
        .copied()
        .chain(extra_args.iter().map(String::as_str))
    {
        // chromiumoxide writes `--key` or `--key=value` itself.
        let flag = flag.trim_start_matches("--");
        builder = match flag.split_once('=') {
            Some((key, value)) => builder.arg((key, value)),
            None => builder.arg(flag),
        };
    }
    builder
        .chrome_executable(executable)
        .disable_default_args()
        .no_sandbox()
        .user_data_dir(profile)
        .window_size(1024, 768)
        .viewport(Viewport {
            width: 1024,
            height: 768,
            device_scale_factor: Some(1.0),
            ..Viewport::default()
        })
        .launch_timeout(LAUNCH)
        .request_timeout(WAIT)
        .build()
        .unwrap_or_else(|error| panic!("browser configuration: {error}"))
}

/// Reports `securitypolicyviolation` events (which the page could otherwise only see itself) as
/// console errors, so that they reach [`Tab::problems`] with the directive and what it blocked.
const REPORT_CSP_VIOLATIONS: &str = r#"
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)')
    + ' on ' + e.documentURI + ' (policy: ' + e.originalPolicy + ')');
});
"#;

/// A running headless Chromium with a fresh profile; killed (with its profile) when dropped.
pub(crate) struct Browser {
    inner: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with [`FLAGS`] plus `extra_args` (say `--host-resolver-rules=MAP ...`).
    ///
    /// Where Chromium is not installed this panics when the `CI` environment variable is set
    /// (CI must run the browser tests) and otherwise prints a loud skip note and returns `None`.
    pub(crate) async fn launch(extra_args: &[String]) -> Option<Browser> {
        let executable = find_chromium()?;
        // One start at a time, and a few tries: on a busy machine a cold Chromium now and then
        // never prints its DevTools address (seen on CI), and a second start works.
        static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one_at_a_time = STARTING.lock().await;
        let mut failures = Vec::new();
        for _attempt in 0..LAUNCH_ATTEMPTS {
            let profile = tempfile::tempdir().expect("a temporary Chromium profile");
            let config = config(&executable, extra_args, profile.path());
            match chromiumoxide::Browser::launch(config).await {
                Ok((inner, handler)) => return Some(Browser::connected(inner, handler, profile)),
                Err(error) => {
                    eprintln!(
                        "{} did not start, trying again: {error}",
                        executable.display()
                    );
                    failures.push(error.to_string());
                }
            }
        }
        panic!(
            "{} did not start in {LAUNCH_ATTEMPTS} tries: {}",
            executable.display(),
            failures.join("\n")
        );
    }

    /// Wraps a started Chromium, polling its connection in the background.
    fn connected(
        inner: chromiumoxide::Browser,
        mut handler: chromiumoxide::Handler,
        profile: tempfile::TempDir,
    ) -> Browser {
        // The handler is the connection: it must be polled for anything to happen.
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(error) = event {
                    eprintln!("browser connection: {error}");
                    break;
                }
            }
        });
        Browser {
            inner,
            handler,
            _profile: profile,
        }
    }

    /// Closes Chromium and waits until it has exited (dropping kills it without waiting).
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.inner.close()).await;
        if tokio::time::timeout(WAIT, self.inner.wait()).await.is_err() {
            panic!("Chromium did not exit within {WAIT:?} of being closed");
        }
    }

    /// A new blank tab that collects problems from its first page on.
    pub(crate) async fn new_tab(&self) -> Tab {
        let page = self
            .inner
            .new_page("about:blank")
            .await
            .unwrap_or_else(|error| panic!("cannot open a tab: {error}"));
        Tab::watch(page).await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Kill now rather than whenever the runtime gets to it: a test that failed must not
        // leave a browser behind.
        if let Some(child) = self.inner.get_mut_child() {
            let _ = child.as_mut_inner().start_kill();
        }
        self.handler.abort();
    }
}

/// Chromium's path, or `None` (outside CI) after saying loudly that the test is skipped.
fn find_chromium() -> Option<PathBuf> {
    let found = CANDIDATES.iter().find_map(|name| {
        let path = Path::new(name);
        if path.is_absolute() {
            return path.is_file().then(|| path.to_owned());
        }
        let dirs = std::env::var_os("PATH")?;
        std::env::split_paths(&dirs)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_some() {
        return found;
    }
    let message = "Chromium is not installed, so the browser tests cannot run: \
                   install it with `apt-get install chromium`";
    if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty()) {
        panic!("{message} (CI is set: the browser tests must run here)");
    }
    let banner = "*".repeat(78);
    eprintln!("\n{banner}\n*** SKIPPED: {message}\n{banner}\n");
    None
}

/// One tab, with everything alarming its pages said.
pub(crate) struct Tab {
    page: Page,
    problems: Arc<Mutex<Vec<String>>>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Tab {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

impl Tab {
    async fn watch(page: Page) -> Tab {
        let problems = Arc::new(Mutex::new(Vec::new()));
        let mut listeners = Vec::new();

        let mut console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .expect("listen to the console");
        let sink = problems.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(event) = console.next().await {
                if matches!(
                    event.r#type,
                    ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert
                ) {
                    let text: Vec<String> = event.args.iter().map(describe).collect();
                    record(&sink, format!("console.error: {}", text.join(" ")));
                }
            }
        }));

        let mut exceptions = page
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("listen to exceptions");
        let sink = problems.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(event) = exceptions.next().await {
                let details = &event.exception_details;
                let thrown = details.exception.as_ref().map(describe).unwrap_or_default();
                let place = details.url.as_deref().unwrap_or("(inline)");
                record(
                    &sink,
                    format!(
                        "uncaught exception at {place}:{}: {} {thrown}",
                        details.line_number + 1,
                        details.text
                    ),
                );
            }
        }));

        // Failed loads, blocked navigations and CSP violations arrive as log entries.
        let mut log = page
            .event_listener::<EventEntryAdded>()
            .await
            .expect("listen to the log");
        let sink = problems.clone();
        listeners.push(tokio::spawn(async move {
            while let Some(event) = log.next().await {
                let entry = &event.entry;
                let url = entry.url.as_deref().unwrap_or("");
                // Browsers ask for /favicon.ico by themselves; a site without one has no error
                // on its pages.
                let favicon = entry.source == LogEntrySource::Network
                    && url
                        .split(['?', '#'])
                        .next()
                        .is_some_and(|u| u.ends_with("/favicon.ico"));
                if entry.level == LogEntryLevel::Error && !favicon {
                    record(
                        &sink,
                        format!(
                            "{} error: {} {url}",
                            entry.source.as_ref(),
                            entry.text.trim()
                        ),
                    );
                }
            }
        }));

        page.evaluate_on_new_document(REPORT_CSP_VIOLATIONS)
            .await
            .expect("install the CSP violation listener");
        Tab {
            page,
            problems,
            listeners,
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub(crate) async fn goto(&self, url: &str) {
        let opened = tokio::time::timeout(WAIT, self.page.goto(url)).await;
        match opened {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => self.fail(&format!("opening {url} failed: {error}")),
            Err(_) => self.fail(&format!("opening {url} took longer than {WAIT:?}")),
        }
    }

    /// Clicks the first element matching `selector` the way a person does: scrolled into view,
    /// a mouse press and release at its centre. Waits for it to appear first.
    pub(crate) async fn click(&self, selector: &str) {
        self.wait_for_selector(selector).await;
        let element = match self.page.find_element(selector).await {
            Ok(element) => element,
            Err(error) => self.fail(&format!("no {selector} to click: {error}")),
        };
        if let Err(error) = element.click().await {
            self.fail(&format!("clicking {selector} failed: {error}"));
        }
    }

    /// Types `text` into the first field matching `selector` the way a person does: clicked
    /// into, then key by key.
    pub(crate) async fn type_into(&self, selector: &str, text: &str) {
        self.click(selector).await;
        let element = match self.page.find_element(selector).await {
            Ok(element) => element,
            Err(error) => self.fail(&format!("no {selector} to type into: {error}")),
        };
        if let Err(error) = element.type_str(text).await {
            self.fail(&format!("typing into {selector} failed: {error}"));
        }
    }

    /// Waits until the JavaScript expression `condition` is truthy on the current page, failing
    /// after [`WAIT`] (naming `what` and where the tab is) or as soon as a problem is reported.
    /// Navigations in between are fine: the condition is evaluated again on the new page.
    pub(crate) async fn wait_for(&self, what: &str, condition: &str) {
        let expression = format!("Boolean({condition})");
        let started = Instant::now();
        loop {
            self.fail_on_problems(&format!("while waiting for {what}"));
            // Errors (a page being replaced, say) just mean "not yet".
            if let Ok(result) = self.page.evaluate(expression.as_str()).await {
                if result.into_value::<bool>().unwrap_or(false) {
                    return;
                }
            }
            if started.elapsed() > WAIT {
                let at = self.url().await;
                self.fail(&format!(
                    "{what}: not there after {WAIT:?} (the tab is at {at})"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matches `selector`.
    pub(crate) async fn wait_for_selector(&self, selector: &str) {
        let quoted = js_string(selector);
        self.wait_for(
            &format!("an element {selector}"),
            &format!("document.querySelector({quoted})"),
        )
        .await;
    }

    /// Waits until the tab is at a page whose address starts with `prefix`, fully loaded.
    pub(crate) async fn wait_for_url(&self, prefix: &str) -> String {
        let quoted = js_string(prefix);
        self.wait_for(
            &format!("a page at {prefix}"),
            &format!("location.href.startsWith({quoted}) && document.readyState === 'complete'"),
        )
        .await;
        self.url().await
    }

    /// The value of a JavaScript expression on the current page.
    pub(crate) async fn eval<T: DeserializeOwned>(&self, expression: &str) -> T {
        let result = match self.page.evaluate(expression).await {
            Ok(result) => result,
            Err(error) => self.fail(&format!("evaluating {expression} failed: {error}")),
        };
        match result.into_value() {
            Ok(value) => value,
            Err(error) => self.fail(&format!("{expression} gave an unexpected value: {error}")),
        }
    }

    /// What axe-core (shipped with the tests in `support/axe/`) finds against WCAG 2.1 A/AA and
    /// its best practices on the page now, as `"rule: selectors"`.
    pub(crate) async fn axe_violations(&self) -> Vec<String> {
        let _: bool = self.eval(&format!("{AXE}\n;true")).await;
        self.eval(AXE_VIOLATIONS).await
    }

    /// Fails the test when axe-core finds anything on the page now (`when` says where).
    pub(crate) async fn assert_accessible(&self, when: &str) {
        let violations = self.axe_violations().await;
        if !violations.is_empty() {
            self.fail(&format!("axe-core {when}: {violations:#?}"));
        }
    }

    /// The rendered text of the first element matching `selector` (what a person reads).
    pub(crate) async fn text(&self, selector: &str) -> String {
        self.wait_for_selector(selector).await;
        let quoted = js_string(selector);
        self.eval(&format!("document.querySelector({quoted}).innerText"))
            .await
    }

    /// The address of the current page.
    pub(crate) async fn url(&self) -> String {
        self.page
            .evaluate("location.href")
            .await
            .ok()
            .and_then(|result| result.into_value::<String>().ok())
            .unwrap_or_else(|| "(unknown)".to_owned())
    }

    /// Writes a PNG of the whole page (not just the viewport) to `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", folder.display()));
        }
        let params = ScreenshotParams::builder()
            .format(CaptureScreenshotFormat::Png)
            .full_page(true)
            .build();
        if let Err(error) = self.page.save_screenshot(params, path).await {
            self.fail(&format!("screenshot to {} failed: {error}", path.display()));
        }
    }

    /// Everything alarming reported so far.
    pub(crate) fn problems(&self) -> Vec<String> {
        lock(&self.problems).clone()
    }

    /// Returns and forgets the problems reported so far (for tests that cause some on purpose).
    pub(crate) fn take_problems(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.problems))
    }

    /// Fails the test, listing them, if anything alarming was reported.
    pub(crate) fn assert_no_problems(&self, context: &str) {
        self.fail_on_problems(context);
    }

    fn fail_on_problems(&self, context: &str) {
        let problems = self.problems();
        if !problems.is_empty() {
            panic!(
                "the browser reported problems {context}:\n  {}",
                problems.join("\n  ")
            );
        }
    }

    fn fail(&self, message: &str) -> ! {
        let problems = self.problems();
        if problems.is_empty() {
            panic!("{message}");
        }
        panic!(
            "{message}\nthe browser reported:\n  {}",
            problems.join("\n  ")
        );
    }
}

fn record(problems: &Mutex<Vec<String>>, problem: String) {
    lock(problems).push(problem);
}

fn lock(problems: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    // A listener that panicked must not hide what the others collected.
    problems
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a console argument or thrown value shows: its value, else its description.
fn describe(object: &RemoteObject) -> String {
    match &object.value {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => object
            .description
            .clone()
            .or_else(|| {
                object
                    .unserializable_value
                    .as_ref()
                    .map(|v| v.inner().clone())
            })
            .unwrap_or_else(|| format!("({:?})", object.r#type)),
    }
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}
