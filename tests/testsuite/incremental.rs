//! Incremental builds through the real service and store: a build renders only the users whose
//! data, content file or publishing choices changed, and the site it leaves is what a build
//! from nothing would write.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fake_discord::FakeUser;
use serde_json::json;

use crate::support::fixtures::ADA;
use crate::support::site::{render_offline, Site};

const GRACE: &str = "81384788765712385";

/// Every file below `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// The site as a build from nothing writes it: the same store and config, another output folder.
async fn from_scratch(site: &Site) -> BTreeMap<String, Vec<u8>> {
    let fresh = tempfile::tempdir().unwrap();
    let mut config = (*site.config).clone();
    config.site.output_dir = fresh.path().join("output");
    let summary = render_offline(&Arc::new(config)).await.unwrap();
    assert_eq!(summary.site.profiles_rendered, summary.profiles);
    tree(&fresh.path().join("output"))
}

#[tokio::test]
async fn only_what_changed_is_rendered_and_the_result_is_a_fresh_builds() {
    let site = Site::with_ada().await;
    site.sign_in("/login?publish=connections").await;
    site.fake.add_user(FakeUser::new(GRACE, "grace"));
    site.fake.login_as(GRACE);
    site.sign_in("/login").await;
    // An online build first: it fetches the images pages use, which are then part of them.
    site.build().await;
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.profiles, 2);

    // Nothing changed: nothing rendered, nothing written.
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 0, "{summary}");
    assert_eq!(summary.site.pages_written, 0, "{summary}");
    assert!(
        summary.to_string().contains("profiles rendered 0"),
        "{summary}"
    );

    // Ada's data changes at Discord: a refresh renders her page (and the index), not Grace's.
    site.fake
        .update_user(ADA, json!({"global_name": "Countess Ada"}));
    let summary = site.build().await;
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    assert!(site.page(ADA).unwrap().contains("Countess Ada"));
    assert_eq!(tree(&site.root.join("output")), from_scratch(&site).await);

    // A refresh that finds the same data renders nothing.
    let summary = site.build().await;
    assert_eq!(summary.site.profiles_rendered, 0, "{summary}");

    // Grace's content file: her page only.
    let users = site.root.join("content/users");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(
        users.join(format!("{GRACE}.md")),
        "+++\nbio = \"Admiral\"\n+++\n",
    )
    .unwrap();
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    assert!(site.page(GRACE).unwrap().contains("Admiral"));
    std::fs::remove_file(users.join(format!("{GRACE}.md"))).unwrap();
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    assert!(!site.page(GRACE).unwrap().contains("Admiral"));

    // Ada stops publishing her connections: her page changes without a refresh.
    site.sql(&format!(
        "UPDATE users SET publish_connections = 0 WHERE id = '{ADA}'"
    ));
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 1, "{summary}");
    assert!(!site.page(ADA).unwrap().contains("ada-gh"));

    // Grace is deleted: her files go, nobody is rendered.
    site.sql(&format!("DELETE FROM users WHERE id = '{GRACE}'"));
    let summary = site.render_offline().await.unwrap();
    assert_eq!(summary.site.profiles_rendered, 0, "{summary}");
    assert!(site.page(GRACE).is_none());
    assert_eq!(tree(&site.root.join("output")), from_scratch(&site).await);
}
