//! The site the benchmarks build: the repository's themes, and a store and output folder in a
//! temporary folder that is deleted when the benchmark ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strife_gen::config::Config;
use tempfile::TempDir;

/// A temporary site. Its output folder is alone in `out/` with the state files a build keeps
/// beside it (manifest, spare tree, lock), so emptying `out/` makes the next build a cold one.
pub(crate) struct TempSite {
    dir: TempDir,
    config: Arc<Config>,
}

impl TempSite {
    /// A new site with no users and no content folder, on the default theme.
    pub(crate) fn new() -> TempSite {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join("out")).expect("the output's folder");
        let themes = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
        let text = format!(
            "[site]\ntitle = \"Bench\"\nbase_url = \"https://bench.example/\"\n\
             themes_dir = \"{}\"\noutput_dir = \"{}\"\n",
            themes.display(),
            dir.path().join("out/output").display()
        );
        let config = Config::from_toml(&text, &dir.path().join("strife.toml")).expect("config");
        TempSite {
            dir,
            config: Arc::new(config),
        }
    }

    /// The site's configuration.
    pub(crate) fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Deletes the output folder and every state file beside it: the next build starts from
    /// nothing, as the first build of a site does.
    pub(crate) fn empty_output(&self) {
        for entry in std::fs::read_dir(self.out()).expect("the output's folder") {
            let path = entry.expect("an output file").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("delete a folder");
            } else {
                std::fs::remove_file(&path).expect("delete a file");
            }
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
}
