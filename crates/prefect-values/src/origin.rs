//! [`Origin`]: where a value came from, and [`Origins`], the origin of each path of a tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::ValuePath;

/// Where a value came from: a line of a values file or a `--set` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A values file given with `-f/--values`.
    File {
        /// The file's name as the user gave it.
        path: String,
        /// The line (from 1) of the key, or of the sequence item, that holds the value.
        line: usize,
    },
    /// A `--set`, `--set-string`, `--set-json` or `--set-file` flag.
    Flag {
        /// The flag and the key of the assignment, e.g. `--set server.replicas` (never the
        /// value, which may be a secret); `--set-json {…}` for a JSON object.
        text: String,
    },
    /// The values recorded with an earlier revision of the release, which an upgrade reuses.
    Recorded {
        /// What recorded them, e.g. `release prefect revision 3`.
        source: String,
    },
}

impl fmt::Display for Origin {
    /// `values.yaml:12`, or the flag's text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Flag { text } => f.write_str(text),
            Origin::Recorded { source } => f.write_str(source),
        }
    }
}

/// The origin of each path of one values tree (paths without one take their parent's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origins {
    by_path: BTreeMap<ValuePath, Origin>,
    /// The paths whose value is a plain scalar of a values file that YAML 1.1 (Helm) reads as a
    /// boolean and YAML 1.2 as a string: `yes`, `off`... (see [`crate::yaml11`]).
    yaml11_booleans: BTreeSet<ValuePath>,
}

impl Origins {
    /// Records that the value at `path` came from `origin`.
    pub(crate) fn insert(&mut self, path: ValuePath, origin: Origin) {
        self.by_path.insert(path, origin);
    }

    /// The origin recorded for exactly `path`.
    pub(crate) fn exact(&self, path: &ValuePath) -> Option<&Origin> {
        self.by_path.get(path)
    }

    /// The origin of `path`, or of its nearest ancestor that has one.
    pub(crate) fn nearest(&self, path: &ValuePath) -> Option<&Origin> {
        let mut path = path.clone();
        loop {
            if let Some(origin) = self.by_path.get(&path) {
                return Some(origin);
            }
            path = path.parent()?;
        }
    }

    /// The origins of `path` and of every path under it.
    pub(crate) fn subtree<'a>(
        &'a self,
        path: &'a ValuePath,
    ) -> impl Iterator<Item = (&'a ValuePath, &'a Origin)> + 'a {
        // A prefix sorts before everything that extends it, and those come next.
        self.by_path.range(path.clone()..).take_while(move |(p, _)| p.starts_with(path))
    }

    /// Forgets the origins of `path` and of every path under it.
    pub(crate) fn remove_subtree(&mut self, path: &ValuePath) {
        let doomed: Vec<ValuePath> = self.subtree(path).map(|(p, _)| p.clone()).collect();
        for p in doomed {
            self.by_path.remove(&p);
        }
        self.yaml11_booleans.retain(|p| !p.starts_with(path));
    }

    /// Makes the origins of `path` and below those that `src` has there.
    pub(crate) fn replace_subtree(&mut self, src: &Origins, path: &ValuePath) {
        self.remove_subtree(path);
        for (p, origin) in src.subtree(path) {
            self.by_path.insert(p.clone(), origin.clone());
        }
        let marked = src.yaml11_booleans.range(path.clone()..).take_while(|p| p.starts_with(path));
        self.yaml11_booleans.extend(marked.cloned());
    }

    /// Records that the value at `path` is a plain `yes`, `off`... of a values file.
    pub(crate) fn mark_yaml11_boolean(&mut self, path: ValuePath) {
        self.yaml11_booleans.insert(path);
    }

    /// The paths whose value is a plain `yes`, `off`... of a values file, in path order.
    pub(crate) fn yaml11_booleans(&self) -> impl Iterator<Item = &ValuePath> {
        self.yaml11_booleans.iter()
    }

    /// Forgets that the value at `path` is a plain `yes`, `off`...
    pub(crate) fn unmark_yaml11_boolean(&mut self, path: &ValuePath) {
        self.yaml11_booleans.remove(path);
    }

    /// Every path with its origin, in path order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&ValuePath, &Origin)> {
        self.by_path.iter()
    }
}
