//! Output folders written whole or not at all, for `cpts match` and `cpts garde`.
//!
//! Every file is first written into a temporary sibling folder (`.NAME.tmp-PID` beside
//! `NAME`), then published by renames on the same file system: a crash or an error leaves at
//! most that hidden folder (removed on error), never a half-written output.
//!
//! * `NAME` missing or empty: the staged folder becomes `NAME` in one rename.
//! * `NAME` already holding files (a previous run, or a folder of the user's): each output
//!   file replaces its namesake in one rename; files of other names are left alone, so
//!   `--out .` never deletes anything.

use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A folder being written; [`Staged::commit`] publishes it, dropping it removes it.
#[derive(Debug)]
pub(super) struct Staged {
    tmp: PathBuf,
    out: PathBuf,
    committed: bool,
}

impl Staged {
    /// Creates the temporary sibling of `out` (and `out`'s parent folders).
    ///
    /// # Errors
    /// When `out` names no folder (`/`) or the sibling cannot be created.
    pub(super) fn new(out: &Path) -> anyhow::Result<Self> {
        // `.` or `..` have no file name of their own: name them by their real path.
        let out = if out.file_name().is_none() && out.exists() {
            out.canonicalize()
                .with_context(|| format!("resolving {}", out.display()))?
        } else {
            out.to_path_buf()
        };
        let name = out
            .file_name()
            .with_context(|| format!("{} names no folder", out.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        // A leftover of a crashed run with this process id: nothing in it is wanted.
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Self {
            tmp,
            out,
            committed: false,
        })
    }

    /// Writes the file `name` of the output through a buffer.
    ///
    /// # Errors
    /// When the file cannot be created or written.
    pub(super) fn write(
        &self,
        name: &str,
        body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        let path = self.tmp.join(name);
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(file);
        body(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("writing {}", self.out.join(name).display()))
    }

    /// Publishes the staged files into the output folder (module documentation).
    ///
    /// # Errors
    /// When a rename fails; files already renamed stay published, each one whole.
    pub(super) fn commit(mut self) -> anyhow::Result<()> {
        // rename(2) replaces a missing or empty folder in one step; a folder with files
        // refuses (ENOTEMPTY), and then each file moves on its own.
        if std::fs::rename(&self.tmp, &self.out).is_err() {
            anyhow::ensure!(
                self.out.is_dir(),
                "{} exists and is not a folder",
                self.out.display()
            );
            let mut names: Vec<_> = std::fs::read_dir(&self.tmp)
                .with_context(|| format!("listing {}", self.tmp.display()))?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()
                .with_context(|| format!("listing {}", self.tmp.display()))?;
            names.sort();
            for name in names {
                let to = self.out.join(&name);
                std::fs::rename(self.tmp.join(&name), &to)
                    .with_context(|| format!("renaming into {}", to.display()))?;
            }
            std::fs::remove_dir(&self.tmp)
                .with_context(|| format!("removing {}", self.tmp.display()))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: an error here would hide the one being reported.
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_folder_appears_whole_and_no_temporary_is_left() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b");
        let s = Staged::new(&out).unwrap();
        s.write("x.csv", |w| writeln!(w, "x")).unwrap();
        assert!(!out.exists(), "nothing is visible before the commit");
        s.commit().unwrap();
        assert_eq!(files(&out), ["x.csv"]);
        assert_eq!(files(&root.path().join("a")), ["b"]);
    }

    #[test]
    fn an_existing_folder_keeps_its_other_files_and_gets_new_outputs() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("mine.txt"), "keep").unwrap();
        std::fs::write(out.join("x.csv"), "old").unwrap();
        let s = Staged::new(&out).unwrap();
        s.write("x.csv", |w| write!(w, "new")).unwrap();
        s.commit().unwrap();
        assert_eq!(files(&out), ["mine.txt", "x.csv"]);
        assert_eq!(std::fs::read_to_string(out.join("x.csv")).unwrap(), "new");
        assert_eq!(files(root.path()), ["out"]);
    }

    #[test]
    fn a_dropped_stage_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staged::new(&out).unwrap();
        s.write("x.csv", |w| writeln!(w, "x")).unwrap();
        drop(s);
        assert!(files(root.path()).is_empty());
    }
}
