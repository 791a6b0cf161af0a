//! A throwaway PostgreSQL cluster for the tests, started once per test process: `initdb` into a
//! temporary folder, `postgres` listening on a Unix socket in it only (no TCP port to race for,
//! nothing reachable from outside), password logins (scram-sha-256) so a wrong password can be
//! tested. The server gets `PR_SET_PDEATHSIG`: it stops when the thread that started it ends,
//! and that thread never ends before the test process does. Each test asks for a database of
//! its own ([`database`]), so tests run in parallel without seeing each other's rows.
//!
//! Where the PostgreSQL binaries are missing, [`database`] answers `None` after printing a note
//! (the caller skips its test); under CI (`CI` set) it panics instead, so CI cannot pass by
//! skipping them.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};

/// The cluster's superuser.
pub const USER: &str = "strife_test";
/// Its password (the cluster is reachable only through a socket in a private folder).
pub const PASSWORD: &str = "throwaway-test-password";
/// The port, which only names the socket file (`.s.PGSQL.<port>`): nothing listens on TCP.
const PORT: u16 = 5432;

/// A running cluster: where its socket is.
#[derive(Debug)]
struct Cluster {
    socket_dir: PathBuf,
    bin_dir: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

/// The URL of a new, empty database on the test cluster (started on first use), or `None`
/// where PostgreSQL is not installed and this is not CI.
pub fn database() -> Option<String> {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(cluster) => cluster,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL tests cannot run under CI: {why}")
        }
        Err(why) => {
            eprintln!("note: PostgreSQL test skipped: {why}");
            return None;
        }
    };
    let name = format!("test_{}", NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
    let status = Command::new(cluster.bin_dir.join("createdb"))
        .args(["-h", &cluster.socket_dir.to_string_lossy()])
        .args(["-p", &PORT.to_string(), "-U", USER, &name])
        .env("PGPASSWORD", PASSWORD)
        .status()
        .expect("run createdb");
    assert!(status.success(), "createdb {name} failed");
    Some(url_of(cluster, &name, PASSWORD))
}

/// The URL of `database` on the test cluster with `password` (tests of a wrong one).
pub fn url_with_password(database_url: &str, password: &str) -> String {
    database_url.replace(
        &format!("password={PASSWORD}"),
        &format!("password={password}"),
    )
}

fn url_of(cluster: &Cluster, database: &str, password: &str) -> String {
    format!(
        "postgresql:///{database}?host={}&port={PORT}&user={USER}&password={password}",
        cluster.socket_dir.display()
    )
}

/// Starts the cluster on a thread of its own, which then waits forever: the server's parent
/// death signal fires when that thread ends, that is with the test process.
fn start() -> Result<Cluster, String> {
    let bin_dir = bin_dir().ok_or(
        "no PostgreSQL server binaries (initdb, postgres) found; install Debian's postgresql",
    )?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            let started = start_here(&bin_dir);
            let failed = started.is_err();
            let _ = sender.send(started);
            if !failed {
                loop {
                    std::thread::park();
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    receiver
        .recv()
        .map_err(|_| "the cluster's thread ended".to_owned())?
}

fn start_here(bin_dir: &Path) -> Result<Cluster, String> {
    let root = std::env::temp_dir().join(format!("strife-test-pg-{}", std::process::id()));
    sweep_stale(&root);
    let data = root.join("data");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let password_file = root.join("password");
    std::fs::write(&password_file, PASSWORD).map_err(|e| e.to_string())?;
    // PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` user.
    let owner = server_user()?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&password_file, Some(uid), Some(gid))
            .map_err(|e| e.to_string())?;
    }
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    let mut initdb = Command::new(bin_dir.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", password_file.display()))
        .stdout(Stdio::null());
    as_owner(&mut initdb, owner);
    let output = initdb
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut server = Command::new(bin_dir.join("postgres"));
    server
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&root)
        .args(["-p", &PORT.to_string()])
        // No TCP at all; no fsync (a crash loses only test data); enough connections for
        // the tests running at once, each with its own pool.
        .args([
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=400",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    as_owner(&mut server, owner);
    // SAFETY: prctl is async-signal-safe; it runs in the child after the uid change (which
    // would clear it) and before exec.
    unsafe {
        server.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    server
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let cluster = Cluster {
        socket_dir: root,
        bin_dir: bin_dir.to_owned(),
    };
    wait_until_ready(&cluster)?;
    Ok(cluster)
}

/// Waits for the server to accept connections (`pg_isready`), a minute at most.
fn wait_until_ready(cluster: &Cluster) -> Result<(), String> {
    for _ in 0..1200 {
        let ready = Command::new(cluster.bin_dir.join("pg_isready"))
            .args(["-q", "-h", &cluster.socket_dir.to_string_lossy()])
            .args(["-p", &PORT.to_string()])
            .status()
            .map_err(|e| format!("cannot run pg_isready: {e}"))?;
        if ready.success() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err("the test cluster did not start within a minute".into())
}

/// Runs `command` as `owner` (uid, gid) when there is one.
fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

/// The `postgres` user's ids when running as root (the server will not run as root).
fn server_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = c"postgres";
    // SAFETY: a valid NUL-terminated name; the answer is read before any other getpw* call.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err("running as root, and there is no `postgres` user to run the server as".into());
    }
    // SAFETY: non-null, as checked.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

/// Removes clusters left by test processes that are gone (their server stopped with them).
fn sweep_stale(ours: &Path) {
    let Some(parent) = ours.parent() else { return };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("strife-test-pg-"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The server binaries: `STRIFE_PG_BIN`, else Debian's newest `/usr/lib/postgresql/<n>/bin`,
/// else wherever `initdb` is on the PATH.
fn bin_dir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").exists() && dir.join("postgres").exists();
    if let Some(dir) = std::env::var_os("STRIFE_PG_BIN").map(PathBuf::from) {
        return has_server(&dir).then_some(dir);
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_server(dir)))
}
