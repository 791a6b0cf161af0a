//! Owns which files of an input folder count and that they resolve inside it.
//! It must not follow a link out of the folder, whatever the caller asks for.
//!
//! The site's own input folders (themes, content, sample users): which files in them count, and
//! how they are read.
//!
//! Files people edit by hand come with editor droppings beside them; every reader of those
//! folders (the theme loader, the content loader, the watcher) skips the same ones.
//!
//! Every file is read through a [`Confined`] folder: links are fine as long as what they resolve
//! to is inside the folder. A content file, template, static file or sample user that points
//! elsewhere (`/etc/passwd`, `../strife.db.key`, `.env`, `/proc/self/environ`) would otherwise
//! be published, so it is an error ([`FileError::Outside`]) naming the file and its target.

use crate::fault::Blame;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Files editors write beside the real one while saving (Vim's swap files and its `4913` probe,
/// backup files ending in `~`, Emacs lock and autosave files). Changing them changes nothing.
pub(crate) fn is_editor_temp_file(path: &Path) -> bool {
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
pub(crate) fn is_ignored(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'));
    hidden || is_editor_temp_file(path)
}

/// Why a file of an input folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file (or a folder on its way) is a link that resolves outside the folder.
    #[error(
        "{} points to {}, outside {key} ({}): strife-gen reads only files inside that folder, \
         links included, so that nothing else is ever published; replace the link with a copy \
         of the file, or make it point inside the folder",
        path.display(), target.display(), root.display()
    )]
    Outside {
        /// The path as found in the folder.
        path: PathBuf,
        /// Where it really is, links resolved.
        target: PathBuf,
        /// The configuration key of the folder, e.g. `site.content_dir`.
        key: &'static str,
        /// The folder, links resolved.
        root: PathBuf,
    },
    #[error("cannot read {}: {source}", path.display())]
    /// The file cannot be read.
    Read {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the system or library reported.
        source: io::Error,
    },
}

impl Blame for FileError {
    /// A link out of a site folder is fixed in that folder.
    fn is_users_fault(&self) -> bool {
        matches!(self, FileError::Outside { .. })
    }
}

impl FileError {
    /// Whether the path simply does not exist (as opposed to existing but being unreadable).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, FileError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// A folder that files are only ever read from inside of, with links resolved: the one helper
/// behind every read of `site.content_dir`, `site.themes_dir` and `site.sample_users_dir`.
///
/// The folder itself may be reached through links (it is where the configuration points); below
/// it, a file or folder that resolves outside is an error. Against a link swapped while it is
/// being read, the check is made on the file that was actually opened, not on its name: the file
/// is opened first, and the opened file's real path is what must be inside (on Linux the
/// kernel's own answer, `/proc/self/fd`; elsewhere the canonical path, accepted only if it is the
/// very file that was opened). Hard links are not links in this sense: a hard link is a file of
/// the folder.
#[derive(Debug, Clone)]
pub(crate) struct Confined {
    key: &'static str,
    real: PathBuf,
}

impl Confined {
    /// The folder `dir`, named `key` (`site.content_dir`) in messages. Fails (`NotFound`, ...)
    /// when it does not resolve.
    pub(crate) fn new(key: &'static str, dir: &Path) -> io::Result<Confined> {
        Ok(Confined {
            key,
            real: fs::canonicalize(dir)?,
        })
    }

    /// The folder, links resolved.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.real
    }

    /// The bytes of the file at `path` (below the folder).
    pub(crate) fn read(&self, path: &Path) -> Result<Vec<u8>, FileError> {
        let read_error = |source| FileError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = open_for_reading(path).map_err(read_error)?;
        let real = opened_path(&file, path).map_err(read_error)?;
        self.check(path, &real)?;
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(read_error(io::Error::other("not a regular file")));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(read_error)?;
        Ok(bytes)
    }

    /// [`Confined::read`] as UTF-8 text.
    pub(crate) fn read_to_string(&self, path: &Path) -> Result<String, FileError> {
        let bytes = self.read(path)?;
        String::from_utf8(bytes).map_err(|error| FileError::Read {
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidData, error),
        })
    }

    /// Where `path` (a folder or file below the folder) really is, or `None` when nothing is
    /// there (a missing file, a dangling link). An error when it resolves outside the folder.
    /// For deciding what to list or skip; reading goes through [`Confined::read`], which checks
    /// again on the opened file.
    pub(crate) fn resolve(&self, path: &Path) -> Result<Option<PathBuf>, FileError> {
        match fs::canonicalize(path) {
            Ok(real) => self.check(path, &real).map(|()| Some(real)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(FileError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn check(&self, path: &Path, real: &Path) -> Result<(), FileError> {
        if real.starts_with(&self.real) {
            return Ok(());
        }
        Err(FileError::Outside {
            path: path.to_owned(),
            target: real.to_owned(),
            key: self.key,
            root: self.real.clone(),
        })
    }
}

/// Opens `path` to read it. Non-blocking, so that a named pipe cannot hang a build (it is then
/// refused as not a regular file); that changes nothing for regular files.
fn open_for_reading(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    options.open(path)
}

/// The real path of `file`, which was opened from `path`.
fn opened_path(file: &fs::File, path: &Path) -> io::Result<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // The kernel knows what was opened; absent /proc (some sandboxes), fall back below.
        if let Ok(real) = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            if real.is_absolute() {
                return Ok(real);
            }
        }
    }
    canonical_path_of(file, path)
}

/// The canonical path of `path`, provided it still names the file that was opened.
fn canonical_path_of(file: &fs::File, path: &Path) -> io::Result<PathBuf> {
    let real = fs::canonicalize(path)?;
    let opened = same_file::Handle::from_file(file.try_clone()?)?;
    if same_file::Handle::from_path(&real)? == opened {
        Ok(real)
    } else {
        Err(io::Error::other(
            "it was replaced while being opened; try again",
        ))
    }
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

    /// A folder `root/inside` with a file, and a secret beside it in `root`.
    #[cfg(unix)]
    fn confined() -> (tempfile::TempDir, PathBuf, Confined) {
        let root = tempfile::tempdir().unwrap();
        let inside = root.path().join("inside");
        fs::create_dir_all(inside.join("sub")).unwrap();
        fs::write(inside.join("sub/page.md"), "hello").unwrap();
        fs::write(root.path().join("secret.key"), "s3cr3t").unwrap();
        let confined = Confined::new("site.content_dir", &inside).unwrap();
        (root, inside, confined)
    }

    #[cfg(unix)]
    #[test]
    fn files_and_links_inside_the_folder_are_read() {
        use std::os::unix::fs::symlink;
        let (_root, inside, confined) = confined();
        assert_eq!(
            confined.read(&inside.join("sub/page.md")).unwrap(),
            b"hello"
        );
        symlink("sub/page.md", inside.join("relative.md")).unwrap();
        symlink(inside.join("sub"), inside.join("linked-folder")).unwrap();
        assert_eq!(
            confined
                .read_to_string(&inside.join("relative.md"))
                .unwrap(),
            "hello"
        );
        assert_eq!(
            confined
                .read_to_string(&inside.join("linked-folder/page.md"))
                .unwrap(),
            "hello"
        );
        let real = confined.resolve(&inside.join("relative.md")).unwrap();
        assert_eq!(real, Some(confined.root().join("sub/page.md")));
        assert_eq!(confined.resolve(&inside.join("missing.md")).unwrap(), None);
        symlink("nowhere", inside.join("dangling.md")).unwrap();
        assert_eq!(confined.resolve(&inside.join("dangling.md")).unwrap(), None);
        assert!(confined
            .read(&inside.join("dangling.md"))
            .unwrap_err()
            .is_not_found());
    }

    #[cfg(unix)]
    #[test]
    fn links_that_leave_the_folder_are_refused_naming_file_and_target() {
        use std::os::unix::fs::symlink;
        let (root, inside, confined) = confined();
        let secret = fs::canonicalize(root.path().join("secret.key")).unwrap();
        symlink("../secret.key", inside.join("key.md")).unwrap();
        symlink(root.path(), inside.join("up")).unwrap();
        symlink("/etc/passwd", inside.join("passwd.md")).unwrap();
        for (rel, target) in [
            ("key.md", secret.clone()),
            ("up/secret.key", secret.clone()),
            ("passwd.md", fs::canonicalize("/etc/passwd").unwrap()),
        ] {
            let path = inside.join(rel);
            let error = confined.read(&path).unwrap_err();
            let FileError::Outside {
                path: named,
                target: found,
                key,
                ..
            } = &error
            else {
                panic!("{rel}: {error:?}");
            };
            assert_eq!((named, found, *key), (&path, &target, "site.content_dir"));
            let message = error.to_string();
            for part in [path.display().to_string(), target.display().to_string()] {
                assert!(message.contains(&part), "{message}");
            }
            assert!(!message.contains("s3cr3t"), "{message}");
        }
        let error = confined.resolve(&inside.join("up")).unwrap_err();
        assert!(matches!(error, FileError::Outside { .. }), "{error:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_environment_and_pipes_are_never_read() {
        use std::os::unix::fs::symlink;
        let (_root, inside, confined) = confined();
        symlink("/proc/self/environ", inside.join("environ.md")).unwrap();
        let error = confined.read(&inside.join("environ.md")).unwrap_err();
        assert!(matches!(error, FileError::Outside { .. }), "{error:?}");

        // A named pipe inside the folder: refused at once instead of waiting for a writer.
        let fifo = inside.join("pipe.md");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let error = confined.read(&fifo).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn without_proc_the_opened_file_must_be_the_one_at_its_canonical_path() {
        let (_root, inside, _confined) = confined();
        let path = inside.join("sub/page.md");
        let file = fs::File::open(&path).unwrap();
        let real = canonical_path_of(&file, &path).unwrap();
        assert_eq!(real, fs::canonicalize(&path).unwrap());
        // Replaced between opening and checking: the name now means another file.
        fs::remove_file(&path).unwrap();
        fs::write(&path, "other").unwrap();
        let error = canonical_path_of(&file, &path).unwrap_err().to_string();
        assert!(error.contains("replaced"), "{error}");
    }
}
