//! The files a step carries over from the step before are the same, unless `xtask::drift`'s
//! table says why a step changes one.

use xtask::{drift, workspace};

#[test]
fn carried_files_do_not_drift() {
    let drifted = drift::check(&workspace()).unwrap();
    assert!(
        drifted.is_empty(),
        "a step changed a file it carries over from the step before:\n{}\n\
         Make the same change in every step that carries the file (the diff between two steps \
         should show only the new namespace), or, if this step must differ, add the file to \
         xtask/src/drift.rs's CHANGED table with the reason. (If you edited a step for an \
         exercise, this is expected: these checks are for the tutorial's maintainers; `git stash` \
         puts the steps back.)",
        drifted.join("\n")
    );
}

/// The check fails when one carried line changes: it compares a scratch copy of two steps.
#[test]
fn one_changed_line_is_drift() {
    let root = workspace();
    let scratch = tempdir();
    for step in ["step05-mount", "step06-user"] {
        for dir in ["src", "tests"] {
            std::fs::create_dir_all(scratch.join(step).join(dir)).unwrap();
        }
        for file in ["Cargo.toml", "src/main.rs", "src/rootfs.rs"] {
            std::fs::copy(root.join(step).join(file), scratch.join(step).join(file)).unwrap();
        }
    }
    // The copies start alike: unless a learner's exercise changed step05-mount's rootfs.rs.
    assert_eq!(
        drift::check(&scratch).unwrap(),
        Vec::<String>::new(),
        "step05-mount/src/rootfs.rs and step06-user's differ before this test changes either. (If \
         you edited a step for an exercise, this is expected: these checks are for the tutorial's \
         maintainers; `git stash` puts the steps back.)"
    );
    let copy = scratch.join("step06-user/src/rootfs.rs");
    let text = std::fs::read_to_string(&copy).unwrap();
    std::fs::write(&copy, text.replacen("mode=1777", "mode=0777", 1)).unwrap();
    assert_eq!(
        drift::check(&scratch).unwrap(),
        ["step06-user/src/rootfs.rs differs from step05-mount/src/rootfs.rs"]
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// A directory of our own, made fresh by mkdtemp (so anyone running the tests may make it).
fn tempdir() -> std::path::PathBuf {
    testkit::fresh_dir("drift")
}
