//! The shipped example site, built offline, in a real (headless) Chromium, light and dark: the
//! index, both example profiles and the 404 page log no console error and fail no request (the
//! favicon included), every picture loads, every link's text reaches 4.5:1 against what is
//! behind it (WCAG AA, computed in the page from the computed styles), and axe-core (shipped
//! with the tests in `support/axe/`, so no network is needed) finds no violation of WCAG 2.1 A/AA
//! or of its best practices.
//!
//! Needs Debian's `chromium`; skipped with a note where it is missing, except under CI.

use std::path::Path;

use crate::support::browser::{Browser, Tab};
use crate::support::fixtures::{binary, sample_users_dir, site_table, stderr, themes_dir};
use crate::support::service::StaticSite;

const NELLY: &str = "80351110224678912";
const MASON: &str = "53908232506183680";

/// Colour maths shared by the contrast checks: `rgb("rgb(1, 2, 3)")`, and `ratio(fg, bg)`.
const CONTRAST: &str = r#"
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const ratio = (fg, bg) => {
    const [l1, l2] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
"#;

/// Server tiles take their colour from a hue of the server's id: the hues (every 5°) whose
/// initial falls below 4.5:1 on its tile, tried on the page's first tile.
const LOW_CONTRAST_HUES: &str = r#"
  const tile = document.querySelector('.guild-icon');
  const initial = tile && tile.querySelector('.guild-initial');
  const low = [];
  for (let hue = 0; initial && hue < 360; hue += 5) {
    tile.style.setProperty('--hue', hue);
    const fg = rgb(getComputedStyle(initial).color).slice(0, 3);
    const bg = rgb(getComputedStyle(tile).backgroundColor).slice(0, 3);
    if (ratio(fg, bg) < 4.5) low.push(`${hue}: ${ratio(fg, bg).toFixed(2)}`);
  }
  return low;
"#;

/// Links whose text is below 4.5:1 on the colour behind it, as `"text: ratio (colour on
/// colour)"`. The background is the first ancestor's that is not transparent.
const LOW_CONTRAST_LINKS: &str = r#"
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const a of document.querySelectorAll('a')) {
    if (!a.textContent.trim() || a.getClientRects().length === 0) continue;
    const fg = rgb(getComputedStyle(a).color).slice(0, 3);
    const bg = behind(a);
    const r = ratio(fg, bg);
    if (r < 4.5) low.push(`${a.textContent.trim()}: ${r.toFixed(2)} (${fg} on ${bg})`);
  }
  return low;
"#;

/// `check` (statements ending in `return`) with the colour maths, in a scope of its own.
fn in_block(check: &str) -> String {
    format!("(() => {{ {CONTRAST}\n return (() => {{ {check} }})(); }})()")
}

/// Pictures of the page that did not load.
const BROKEN_IMAGES: &str =
    "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.currentSrc)";

/// The shipped config's site, built offline from the shipped themes and example users into
/// `root/output`.
fn build_the_demo(root: &Path, base_url: &str) {
    let site = site_table(
        "Strife profiles",
        base_url,
        &[
            ("themes_dir", &themes_dir()),
            ("sample_users_dir", &sample_users_dir()),
        ],
    );
    std::fs::write(root.join("strife.toml"), site).unwrap();
    let output = binary(root, &["build", "--offline"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// Visits every page kind in `tab` and checks it as the module says.
async fn check_pages(tab: &Tab, base: &str, scheme: &str) {
    for path in [
        String::new(),
        format!("u/{NELLY}/"),
        format!("u/{MASON}/"),
        "404.html".into(),
    ] {
        tab.goto(&format!("{base}{path}")).await;
        let dark: bool = tab
            .eval("matchMedia('(prefers-color-scheme: dark)').matches")
            .await;
        assert_eq!(dark, scheme == "dark", "{path}: not the {scheme} scheme");
        tab.wait_for(
            "the pictures to load",
            "[...document.images].every(i => i.complete)",
        )
        .await;
        let broken: Vec<String> = tab.eval(BROKEN_IMAGES).await;
        assert_eq!(broken, Vec::<String>::new(), "{scheme} /{path}");
        let low: Vec<String> = tab.eval(&in_block(LOW_CONTRAST_LINKS)).await;
        assert_eq!(low, Vec::<String>::new(), "{scheme} /{path}");
        let hues: Vec<String> = tab.eval(&in_block(LOW_CONTRAST_HUES)).await;
        assert_eq!(hues, Vec::<String>::new(), "server tiles, {scheme} /{path}");
        let violations = tab.axe_violations().await;
        assert_eq!(violations, Vec::<String>::new(), "axe, {scheme} /{path}");
        tab.assert_no_problems(&format!("on /{path} ({scheme})"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offline_demo_loads_cleanly_and_its_links_are_readable_in_light_and_dark() {
    let dir = tempfile::tempdir().unwrap();
    let site = StaticSite::serve(&dir.path().join("output"));
    let base = site.base_url();
    build_the_demo(dir.path(), &base);
    for (scheme, flags) in [
        ("light", vec![]),
        (
            "dark",
            vec![
                "--force-dark-mode".to_owned(),
                "--blink-settings=preferredColorScheme=0".to_owned(),
            ],
        ),
    ] {
        let Some(browser) = Browser::launch(&flags).await else {
            return;
        };
        let tab = browser.new_tab().await;
        check_pages(&tab, &base, scheme).await;
        drop(tab);
        browser.close().await;
    }
}
