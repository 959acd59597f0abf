//! What the project's own tools' files say of a built-in's files: the
//! selection of `.pre-commit-config.yaml` ([`crate::pre_commit`]) and, for
//! `secrets`, the paths `.gitleaks.toml` allows ([`crate::gitleaks`]). A
//! built-in checks a file only if every one of them selects it.

use std::sync::Arc;

use crate::gitleaks::Allowlist;
use crate::pre_commit::Scope;

/// The narrowing of one built-in's files; at least one part is set.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectScope {
    /// The pre-commit configuration's patterns for the built-in.
    pub pre_commit: Option<Arc<Scope>>,
    /// The gitleaks allowlists' paths (for `secrets` only).
    pub gitleaks: Option<Arc<Allowlist>>,
}

impl ProjectScope {
    /// The scope of its parts; `None` when neither narrows anything.
    pub fn of(pre_commit: Option<Arc<Scope>>, gitleaks: Option<Arc<Allowlist>>) -> Option<Arc<ProjectScope>> {
        let gitleaks = gitleaks.filter(|g| !g.paths.is_empty());
        (pre_commit.is_some() || gitleaks.is_some()).then(|| Arc::new(ProjectScope { pre_commit, gitleaks }))
    }

    /// Whether the built-in checks `path` (relative to the project root,
    /// `/`-separated), as far as the project's files say.
    pub fn selects(&self, path: &str) -> bool {
        self.pre_commit.as_ref().is_none_or(|s| s.selects(path))
            && self.gitleaks.as_ref().is_none_or(|g| g.allowing(path).is_none())
    }

    /// Why [`selects`](Self::selects) leaves `path` out, in words that end
    /// a sentence naming it; `None` when it does not.
    pub fn left_out_because(&self, path: &str) -> Option<String> {
        (self.pre_commit.as_ref().and_then(|s| s.left_out_because(path)))
            .or_else(|| self.gitleaks.as_ref()?.left_out_because(path))
    }

    /// Each part in words, for `config show`, with the file it is from:
    /// `(file, words)`.
    pub fn parts(&self) -> Vec<(&'static str, String)> {
        let pre_commit = self.pre_commit.as_ref().map(|s| (s.file, s.describe()));
        let gitleaks = self.gitleaks.as_ref().map(|g| (g.file, g.describe()));
        pre_commit.into_iter().chain(gitleaks).collect()
    }
}
