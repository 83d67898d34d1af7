//! One container's process, isolated as a runtime would: `ip netns exec` puts it in its pod's
//! network namespace, bubblewrap gives it its own mount, PID (it is PID 1, as in a container),
//! IPC and UTS namespaces and a root filesystem made of the image (this machine's `/usr` and
//! `/etc`, read-only, with the image's own `/etc/passwd` and content) and the pod's volumes,
//! and `setpriv` runs the command as the container's user and groups with the capabilities
//! its security context leaves. `readOnlyRootFilesystem` makes everything but the volumes
//! read-only; otherwise the root is a scratch filesystem that a restart forgets (except `/usr`
//! and `/etc`, which stay read-only here).

use std::{
    os::unix::fs::{PermissionsExt, chown},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result};

use crate::images::Image;

/// A mount of a volume into the container.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The folder or file on this machine.
    pub source: PathBuf,
    /// Where the container sees it.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// The user a container runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// uid.
    pub uid: u32,
    /// Primary gid.
    pub gid: u32,
    /// Supplementary groups (fsGroup, supplementalGroups).
    pub groups: Vec<u32>,
}

/// The pod's own `/etc` files, which every container of the pod shares.
#[derive(Debug, Clone)]
pub struct PodFiles {
    /// `/etc/hosts`.
    pub hosts: PathBuf,
    /// `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
    /// `/etc/hostname`.
    pub hostname: PathBuf,
}

/// Everything that decides how one container runs.
#[derive(Debug, Clone)]
pub struct Sandbox<'a> {
    /// The pod's network namespace.
    pub network_namespace: &'a str,
    /// The pod's hostname.
    pub hostname: &'a str,
    /// The image.
    pub image: &'a Image,
    /// The pod's `/etc` files.
    pub pod_files: &'a PodFiles,
    /// A folder of this container's own: the image's writable folders and files.
    pub scratch: &'a Path,
    /// Volume mounts.
    pub mounts: &'a [Mount],
    /// `readOnlyRootFilesystem`.
    pub read_only_root: bool,
    /// The user.
    pub user: &'a User,
    /// `allowPrivilegeEscalation: false` (or a non-root user with no capabilities added).
    pub no_new_privs: bool,
    /// The capability bounding set, in setpriv's syntax (`-all`, `-all,+chown`).
    pub capabilities: String,
    /// The working folder.
    pub working_dir: &'a str,
}

/// The runtime's default capabilities of a container (Docker's and containerd's list).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "fsetid",
    "fowner",
    "mknod",
    "net_raw",
    "setgid",
    "setuid",
    "setfcap",
    "setpcap",
    "net_bind_service",
    "sys_chroot",
    "kill",
    "audit_write",
];

/// Folders every Debian image has.
const IMAGE_DIRS: &[(&str, u32)] = &[
    ("/tmp", 0o1777),
    ("/var", 0o755),
    ("/var/tmp", 0o1777),
    ("/var/lib", 0o755),
    ("/var/cache", 0o755),
    ("/var/log", 0o755),
    ("/var/run", 0o755),
    ("/run", 0o755),
    ("/home", 0o755),
    ("/root", 0o700),
    ("/opt", 0o755),
    ("/srv", 0o755),
    ("/mnt", 0o755),
    ("/media", 0o755),
];

impl Sandbox<'_> {
    /// `setpriv` with the container's user, groups and capabilities, up to the `--` before
    /// the command: how the container's processes, and its `exec` probes, are started.
    pub fn setpriv(&self) -> Vec<String> {
        let user = self.user;
        let mut args: Vec<String> = ["/usr/bin/setpriv", "--reuid"].map(str::to_owned).to_vec();
        args.push(user.uid.to_string());
        args.extend(["--regid".to_owned(), user.gid.to_string()]);
        if user.groups.is_empty() {
            args.push("--clear-groups".to_owned());
        } else {
            let groups: Vec<String> = user.groups.iter().map(u32::to_string).collect();
            args.extend(["--groups".to_owned(), groups.join(",")]);
        }
        if self.no_new_privs {
            args.push("--no-new-privs".to_owned());
        }
        args.extend(
            ["--bounding-set", &self.capabilities, "--inh-caps", "-all", "--"].map(str::to_owned),
        );
        args
    }

    /// The command that runs `argv` in this sandbox, with exactly `env`.
    pub fn command(&self, argv: &[String], env: &[(String, String)]) -> Result<Command> {
        let mut bwrap: Vec<String> = Vec::new();
        let mut arg = |parts: &[&str]| bwrap.extend(parts.iter().map(|p| (*p).to_owned()));
        arg(&["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--as-pid-1"]);
        arg(&["--die-with-parent", "--hostname", self.hostname]);
        arg(&["--ro-bind", "/usr", "/usr"]);
        // `/usr/local` is the image's own (this machine's would be foreign to it), with mount
        // points for the image's files there.
        let layer = self.scratch.join("layer");
        let inside = |path: &str| layer.join(path.trim_start_matches('/'));
        for dir in ["bin", "sbin", "lib", "share", "include"] {
            std::fs::create_dir_all(inside("/usr/local").join(dir))?;
        }
        for (host, target) in &self.image.content {
            if !target.starts_with("/usr/local/") {
                continue;
            }
            let point = inside(target);
            if host.is_dir() {
                std::fs::create_dir_all(&point)?;
            } else {
                std::fs::create_dir_all(point.parent().unwrap_or(&layer))?;
                std::fs::write(&point, "")?;
            }
        }
        arg(&["--ro-bind", &inside("/usr/local").to_string_lossy(), "/usr/local"]);
        for top in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let path = Path::new("/").join(top);
            match std::fs::read_link(&path) {
                Ok(target) => {
                    arg(&["--symlink", &target.to_string_lossy(), &path.to_string_lossy()])
                }
                Err(_) if path.is_dir() => {
                    arg(&["--ro-bind", &path.to_string_lossy(), &path.to_string_lossy()])
                }
                Err(_) => {}
            }
        }
        // `/etc` is this machine's, file by file on a folder of the container's own, so that
        // mount points can be made in it; the image's users and the pod's names replace ours.
        let etc = self.scratch.join("etc");
        std::fs::create_dir_all(&etc).context("make the image's /etc files")?;
        std::fs::write(etc.join("passwd"), &self.image.passwd)?;
        std::fs::write(etc.join("group"), &self.image.group)?;
        let own = [
            ("passwd", etc.join("passwd")),
            ("group", etc.join("group")),
            ("hosts", self.pod_files.hosts.clone()),
            ("resolv.conf", self.pod_files.resolv_conf.clone()),
            ("hostname", self.pod_files.hostname.clone()),
        ];
        arg(&["--perms", "755", "--tmpfs", "/etc"]);
        let mut entries: Vec<_> = std::fs::read_dir("/etc")?.filter_map(Result::ok).collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if own.iter().any(|(file, _)| *file == name)
                || matches!(name.as_str(), "shadow" | "gshadow")
            {
                continue;
            }
            let path = entry.path();
            match std::fs::read_link(&path) {
                Ok(target) => {
                    arg(&["--symlink", &target.to_string_lossy(), &path.to_string_lossy()])
                }
                Err(_) => arg(&["--ro-bind", &path.to_string_lossy(), &path.to_string_lossy()]),
            }
        }
        for (file, source) in &own {
            arg(&["--ro-bind", &source.to_string_lossy(), &format!("/etc/{file}")]);
        }
        arg(&["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]);
        arg(&["--ro-bind", "/sys", "/sys"]);
        for (dir, mode) in IMAGE_DIRS {
            arg(&["--perms", &format!("{mode:o}"), "--dir", dir]);
        }
        // bubblewrap makes the missing parents of a mount point private (0700); an image's
        // folders are 0755.
        let mut made: std::collections::BTreeSet<PathBuf> =
            IMAGE_DIRS.iter().map(|(dir, _)| PathBuf::from(dir)).collect();
        let targets = self.image.owned_dirs.iter().map(|(dir, ..)| dir.as_str());
        let targets = targets.chain(self.image.content.iter().map(|(_, target)| target.as_str()));
        let targets = targets.chain(self.mounts.iter().map(|m| m.target.as_str()));
        for target in targets.collect::<Vec<_>>() {
            let mut parents: Vec<&Path> = Path::new(target).ancestors().skip(1).collect();
            parents.reverse();
            for parent in parents {
                let system = ["/", "/usr", "/proc", "/dev", "/sys"].iter().any(|top| {
                    parent == Path::new(top) || (*top != "/" && parent.starts_with(top))
                });
                if !system && made.insert(parent.to_owned()) {
                    arg(&["--perms", "755", "--dir", &parent.to_string_lossy()]);
                }
            }
        }
        // The image's own folders, owned by its users: a tree in the layer, each outermost
        // one mounted, with the mount points of the volumes inside them made.
        for (dir, uid, gid, mode) in &self.image.owned_dirs {
            let host = inside(dir);
            std::fs::create_dir_all(&host)?;
            chown(&host, Some(*uid), Some(*gid))?;
            std::fs::set_permissions(&host, PermissionsExt::from_mode(*mode))?;
        }
        let owned = |path: &str| {
            self.image.owned_dirs.iter().any(|(dir, ..)| Path::new(path).starts_with(dir))
        };
        for mount in self.mounts.iter().filter(|m| owned(&m.target)) {
            if !inside(&mount.target).exists() {
                std::fs::create_dir_all(inside(&mount.target))?;
            }
        }
        let bind = if self.read_only_root { "--ro-bind" } else { "--bind" };
        for (dir, ..) in &self.image.owned_dirs {
            let outermost = Path::new(dir).ancestors().skip(1).all(|parent| {
                !self.image.owned_dirs.iter().any(|(other, ..)| Path::new(other) == parent)
            });
            if outermost {
                arg(&[bind, &inside(dir).to_string_lossy(), dir]);
            }
        }
        for (host, target) in &self.image.content {
            arg(&["--ro-bind", &host.to_string_lossy(), target]);
        }
        let mut mounts: Vec<&Mount> = self.mounts.iter().collect();
        mounts.sort_by_key(|m| m.target.trim_end_matches('/').matches('/').count());
        for mount in mounts {
            let kind = if mount.read_only { "--ro-bind" } else { "--bind" };
            arg(&[kind, &mount.source.to_string_lossy(), &mount.target]);
        }
        let under_mount =
            self.mounts.iter().any(|m| Path::new(self.working_dir).starts_with(&m.target));
        if !under_mount && !self.working_dir.starts_with("/usr") && self.working_dir != "/" {
            arg(&["--dir", self.working_dir]);
        }
        arg(&["--chdir", self.working_dir]);
        if self.read_only_root {
            arg(&["--remount-ro", "/etc", "--remount-ro", "/"]);
        }
        bwrap.push("--".to_owned());
        bwrap.extend(self.setpriv());

        let mut command = Command::new("/usr/sbin/ip");
        command.args(["netns", "exec", self.network_namespace, "/usr/bin/bwrap"]);
        command.args(&bwrap).args(argv);
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        Ok(command)
    }
}
