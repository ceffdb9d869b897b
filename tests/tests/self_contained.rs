//! The repository refers to nothing outside itself: a clone from anywhere has no dangling
//! reference. Every text file under the repository root (build output and VCS metadata
//! aside) is checked for relative paths that climb out of the repository and for names of
//! places that only exist on the machine where folio was first written.

use std::path::{Component, Path, PathBuf};

/// Paths never checked: build output and version-control metadata.
const SKIPPED: &[&str] = &[
    "target",
    ".git",
    "fuzz/target",
    "fuzz/corpus",
    "fuzz/artifacts",
];

/// Mentions that point outside the repository whatever file they are in: the product
/// brief's documents by name (the repository's own docs live in `docs/`, lowercase), and
/// absolute paths of the machine folio was first written on. Relative paths that climb
/// out of the repository are caught by `climbing_paths` whatever they name.
const FORBIDDEN: &[&str] = &["DESIGN.md", "BENCHMARKS.md", "STYLE.md", "/work/"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository root")
        .to_path_buf()
}

fn text_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("readable directory")
        .flatten()
    {
        let path = entry.path();
        let relative = path.strip_prefix(root).expect("under the root");
        // Skipped whether a directory or a file: in a git worktree or submodule `.git` is a
        // file naming where the repository's metadata lives (an absolute path).
        if SKIPPED.iter().any(|s| relative == Path::new(s)) {
            continue;
        }
        if path.is_dir() {
            text_files(root, &path, out);
        } else if std::fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

/// `base` joined with the relative path `link`, normalized; `None` when it climbs above
/// `root`.
fn resolve(root: &Path, base: &Path, link: &str) -> Option<PathBuf> {
    let mut path = base.strip_prefix(root).ok()?.to_path_buf();
    for component in Path::new(link).components() {
        match component {
            Component::ParentDir if !path.pop() => return None,
            Component::Normal(part) => path.push(part),
            _ => {}
        }
    }
    Some(path)
}

/// Relative paths starting with `../` in `text`.
fn climbing_paths(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("../").filter_map(move |(at, _)| {
        // Only where a path starts: not inside a longer word or path.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '.' || c == '_') {
            return None;
        }
        let end = text[at..]
            .find(|c: char| !(c.is_alphanumeric() || "/._-".contains(c)))
            .map_or(text.len(), |len| at + len);
        Some(&text[at..end])
    })
}

#[test]
fn no_tracked_file_refers_outside_the_repository() {
    let root = repo_root();
    let mut files = Vec::new();
    text_files(&root, &root, &mut files);
    assert!(files.len() > 50, "only {} files found", files.len());
    let this_file = Path::new(file!()).file_name().expect("a file name");
    let mut problems = Vec::new();
    for file in &files {
        if file.file_name() == Some(this_file) {
            continue; // it names the forbidden strings
        }
        let text = std::fs::read_to_string(file).expect("read just now");
        let shown = file.strip_prefix(&root).expect("under the root").display();
        for needle in FORBIDDEN {
            if text.contains(needle) {
                problems.push(format!("{shown}: mentions {needle}"));
            }
        }
        let dir = file.parent().expect("a file has a directory");
        for link in climbing_paths(&text) {
            if resolve(&root, dir, link).is_none() {
                problems.push(format!("{shown}: {link} leaves the repository"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_catches_a_climbing_path() {
    let root = Path::new("/repo");
    assert!(resolve(root, Path::new("/repo/docs"), "../../elsewhere/x.md").is_none());
    assert!(resolve(root, Path::new("/repo/crates/folio/src"), "../README.md").is_some());
    let found: Vec<&str> = climbing_paths("see `../../x/y.md` and a/../b").collect();
    assert_eq!(found, vec!["../../x/y.md"]);
}
