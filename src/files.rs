//! Files people edit by hand (themes, content) come with editor droppings beside them; every
//! reader of those folders (the theme loader, the content loader, the watcher) skips the same ones.

use std::path::Path;

/// Files editors write beside the real one while saving (Vim's swap files and its `4913` probe,
/// backup files ending in `~`, Emacs lock and autosave files). Changing them changes nothing.
pub fn is_editor_temp_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || [".swp", ".swo", ".swx"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// Hidden files and folders (`.git`, `.DS_Store`, ...) and editor temp files: never part of a
/// theme or of the content.
pub fn is_ignored(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'));
    hidden || is_editor_temp_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_temp_files_are_recognised() {
        for name in [
            "profile.html.swp",
            ".profile.html.swo",
            "base.html~",
            ".#index.html",
            "#index.html#",
            "4913",
        ] {
            assert!(is_editor_temp_file(Path::new(name)), "{name}");
        }
        for name in ["profile.html", "style.css", "49130", "index.md", "swp"] {
            assert!(!is_editor_temp_file(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn hidden_files_and_editor_files_are_ignored() {
        for name in [".git", ".DS_Store", "#base.html#", "style.css~", "4913"] {
            assert!(is_ignored(Path::new(name)), "{name}");
        }
        for name in ["base.html", "style.css", "nelly.md"] {
            assert!(!is_ignored(Path::new(name)), "{name}");
        }
    }
}
