//! Runs the README's `folio` tour (the `console` block: `$ folio ...` lines and the output
//! each prints) and checks that the binary prints exactly that. A block ending in `...`
//! checks only the lines before it.

use assert_cmd::Command;

/// Splits a command line on spaces, keeping "double-quoted" words together.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[test]
fn the_readme_tour_prints_what_the_readme_says() {
    let readme = include_str!("../../../README.md");
    let block = readme
        .split("```console\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a console block");
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push((command.to_owned(), Vec::new()));
        } else {
            steps
                .last_mut()
                .expect("output after a command")
                .1
                .push(line.to_owned());
        }
    }
    assert!(steps.len() >= 10, "the tour is short: {steps:?}");
    let dir = tempfile::tempdir().unwrap();
    for (command, expected) in steps {
        let args = words(&command);
        assert_eq!(args[0], "folio");
        let output = Command::cargo_bin("folio")
            .unwrap()
            .current_dir(dir.path())
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(output.status.success(), "{command}: {output:?}");
        let printed = String::from_utf8(output.stdout).unwrap();
        let printed: Vec<&str> = printed.lines().collect();
        match expected.iter().position(|l| l == "...") {
            Some(end) => assert_eq!(
                printed[..end.min(printed.len())],
                expected[..end],
                "{command}"
            ),
            None => assert_eq!(printed, expected, "{command}"),
        }
    }
}
