//! Which local stand-in plays each container image: the one place that says it.
//!
//! There is no container runtime here, so an image is what this machine has that behaves like
//! it, with the image's entrypoint, default command, environment, working folder, default user
//! and users (its own `/etc/passwd`: a uid the image does not know has no name, as in the real
//! image). The root filesystem under it is this machine's Debian `/usr` and `/etc`, read-only.
//!
//! | image | stand-in |
//! | --- | --- |
//! | `prefecthq/prefect:<version>-python<x.y>[-kubernetes]` | a virtualenv with that Prefect release from PyPI ([`python::PREFECT_RELEASES`]; Debian's Python, whatever `x.y` says; the Kubernetes worker is in every one), tini and `/opt/prefect/entrypoint.sh` as in the image |
//! | `prefectctl.test/e2e-flows:<version>` | the same, plus the tests' flows in `/opt/prefect/flows` (`images/e2e-flows`): an image a user builds `FROM prefecthq/prefect` |
//! | `postgres:<major>[...]` | Debian's PostgreSQL (whatever major is installed), uid 999 `postgres`, with a `docker-entrypoint.sh` that initialises `$PGDATA` as the image's does (`images/postgres-entrypoint.sh`) |
//! | `redis:<version>[...]` | Debian's `redis-server` and `redis-cli` (whatever 7.x is installed; never the system's service), uid 999 `redis`, working folder `/data`, with the image's `docker-entrypoint.sh` (`images/redis-entrypoint.sh`) |
//!
//! Any registry in front of the name is ignored (a mirror holds the same image). Any other image
//! has no stand-in, and its containers wait in `ErrImagePull` with a message that names it.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::python;

/// How an image runs, as its configuration says.
#[derive(Debug, Clone)]
pub struct Image {
    /// `ENTRYPOINT`.
    pub entrypoint: Vec<String>,
    /// `CMD`.
    pub cmd: Vec<String>,
    /// `ENV`, in order.
    pub env: Vec<(String, String)>,
    /// `WORKDIR`.
    pub working_dir: String,
    /// `USER` (all these images run as root unless told otherwise).
    pub user: u32,
    /// Its `/etc/passwd`.
    pub passwd: String,
    /// Its `/etc/group`.
    pub group: String,
    /// Folders of this machine that the image holds at the same or another path, read-only:
    /// (host path, path in the container).
    pub content: Vec<(PathBuf, String)>,
    /// Folders the image makes for a user: (path, uid, gid, mode).
    pub owned_dirs: Vec<(String, u32, u32, u32)>,
    /// `STOPSIGNAL`.
    pub stop_signal: rustix::process::Signal,
}

/// Debian's base users, which every image here starts from.
const DEBIAN_PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";

const DEBIAN_GROUP: &str = "\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
sudo:x:27:
audio:x:29:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
shadow:x:42:
utmp:x:43:
video:x:44:
plugdev:x:46:
staff:x:50:
games:x:60:
users:x:100:
nogroup:x:65534:
";

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The images' own files (entrypoints, flows), which the stand-in mounts from here.
fn own_files() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("images")
}

/// The stand-in of `reference`, or why there is none.
pub fn resolve(reference: &str) -> Result<Image> {
    stand_in(reference).with_context(|| format!("image {reference}"))
}

fn stand_in(reference: &str) -> Result<Image> {
    let (repository, tag) = split(reference);
    match repository {
        "prefecthq/prefect" => {
            let version = tag.split('-').next().unwrap_or_default();
            if !tag.contains("-python") {
                bail!("{}", no_stand_in());
            }
            prefect(version)
        }
        "prefectctl.test/e2e-flows" => {
            let mut image = prefect(tag)?;
            image.content.push((own_files().join("e2e-flows"), "/opt/prefect/flows".to_owned()));
            Ok(image)
        }
        "postgres" => postgres(),
        "redis" => redis(),
        _ => bail!("{}", no_stand_in()),
    }
}

fn no_stand_in() -> String {
    let versions: Vec<&str> = python::PREFECT_RELEASES.iter().map(|(v, _)| *v).collect();
    format!(
        "no stand-in for it: this kubelet stand-in runs \
         prefecthq/prefect:{{{}}}-python*, prefectctl.test/e2e-flows:<version>, \
         postgres:<major> and redis:<version> (tests/kubelet/src/images.rs)",
        versions.join(",")
    )
}

/// `(repository, tag)` without the registry, `docker.io/library/` or a digest.
fn split(reference: &str) -> (&str, &str) {
    let reference = reference.split('@').next().unwrap_or(reference);
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    };
    let name = match name.split_once('/') {
        Some((host, rest))
            if (host.contains('.') || host.contains(':') || host == "localhost")
                && host != "prefectctl.test" =>
        {
            rest
        }
        _ => name,
    };
    (name.strip_prefix("library/").unwrap_or(name), tag)
}

fn prefect(version: &str) -> Result<Image> {
    let venv = python::prefect(version)?;
    Ok(Image {
        entrypoint: ["/usr/bin/tini", "-g", "--", "/opt/prefect/entrypoint.sh"]
            .map(str::to_owned)
            .to_vec(),
        cmd: vec!["python3".to_owned()],
        env: vec![
            ("PATH".to_owned(), format!("{}:{PATH}", venv.bin().display())),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("LC_ALL".to_owned(), "C.UTF-8".to_owned()),
            ("PYTHON_VERSION".to_owned(), venv.python_version.clone()),
            ("UV_LINK_MODE".to_owned(), "copy".to_owned()),
            ("UV_SYSTEM_PYTHON".to_owned(), "1".to_owned()),
        ],
        working_dir: "/opt/prefect".to_owned(),
        user: 0,
        passwd: DEBIAN_PASSWD.to_owned(),
        group: DEBIAN_GROUP.to_owned(),
        content: [
            (own_files().join("prefect-entrypoint.sh"), "/opt/prefect/entrypoint.sh".to_owned()),
            (venv.root.clone(), venv.root.display().to_string()),
            (venv.base_prefix.clone(), venv.base_prefix.display().to_string()),
        ]
        .into_iter()
        .filter(|(host, _)| !host.starts_with("/usr"))
        .collect(),
        owned_dirs: Vec::new(),
        stop_signal: rustix::process::Signal::TERM,
    })
}

fn postgres() -> Result<Image> {
    let bin = installed_postgres()?;
    Ok(Image {
        entrypoint: vec!["docker-entrypoint.sh".to_owned()],
        cmd: vec!["postgres".to_owned()],
        env: vec![
            ("PATH".to_owned(), format!("{PATH}:{}", bin.display())),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("PGDATA".to_owned(), "/var/lib/postgresql/data".to_owned()),
        ],
        working_dir: "/".to_owned(),
        user: 0,
        passwd: format!(
            "{DEBIAN_PASSWD}postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash\n"
        ),
        group: format!("{DEBIAN_GROUP}postgres:x:999:\n"),
        content: vec![(
            own_files().join("postgres-entrypoint.sh"),
            "/usr/local/bin/docker-entrypoint.sh".to_owned(),
        )],
        owned_dirs: vec![
            ("/var/lib/postgresql".to_owned(), 999, 999, 0o755),
            ("/var/lib/postgresql/data".to_owned(), 999, 999, 0o1777),
            ("/var/run/postgresql".to_owned(), 999, 999, 0o3777),
            ("/docker-entrypoint-initdb.d".to_owned(), 0, 0, 0o755),
        ],
        stop_signal: rustix::process::Signal::INT,
    })
}

/// Where Debian's redis-server package puts the server.
const REDIS_SERVER: &str = "/usr/bin/redis-server";

fn redis() -> Result<Image> {
    if !Path::new(REDIS_SERVER).is_file() {
        bail!("no {REDIS_SERVER} here: install Debian's redis-server");
    }
    Ok(Image {
        entrypoint: vec!["docker-entrypoint.sh".to_owned()],
        cmd: vec!["redis-server".to_owned()],
        env: vec![("PATH".to_owned(), PATH.to_owned())],
        working_dir: "/data".to_owned(),
        user: 0,
        passwd: format!("{DEBIAN_PASSWD}redis:x:999:999::/home/redis:/bin/sh\n"),
        group: format!("{DEBIAN_GROUP}redis:x:999:\n"),
        content: vec![(
            own_files().join("redis-entrypoint.sh"),
            "/usr/local/bin/docker-entrypoint.sh".to_owned(),
        )],
        owned_dirs: vec![("/data".to_owned(), 999, 999, 0o755)],
        stop_signal: rustix::process::Signal::TERM,
    })
}

/// `/usr/lib/postgresql/<major>/bin` of Debian's newest installed PostgreSQL.
fn installed_postgres() -> Result<PathBuf> {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|err| anyhow!("no PostgreSQL here ({err}): install Debian's postgresql"))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("bin/postgres").is_file())
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    majors.sort_unstable();
    let major = majors.pop().ok_or_else(|| anyhow!("no PostgreSQL in /usr/lib/postgresql"))?;
    Ok(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin")))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn references_lose_their_registry_and_digest() {
        assert_eq!(split("postgres:17"), ("postgres", "17"));
        assert_eq!(split("docker.io/library/postgres:17.2"), ("postgres", "17.2"));
        assert_eq!(
            split("registry.example.com:5000/prefecthq/prefect:3.9.1-python3.12"),
            ("prefecthq/prefect", "3.9.1-python3.12")
        );
        assert_eq!(
            split("prefectctl.test/e2e-flows:3.9.1"),
            ("prefectctl.test/e2e-flows", "3.9.1")
        );
        assert_eq!(split("postgres"), ("postgres", "latest"));
        assert_eq!(split("postgres:17@sha256:abc"), ("postgres", "17"));
    }
}
