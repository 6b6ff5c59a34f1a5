//! The data directory (`.circle/` by default): `circle.db` (SQLite, with its
//! `-wal` and `-shm` files) and `hash.key`, the key of every stored hash. On
//! Unix the directory is made `0700` and the files `0600` (SQLite gives its
//! side files the database's mode), so no other user of the machine reads
//! the circles or the key; an existing directory and files are tightened too.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use circle_shared::secrets::HashKey;

/// The database file's name inside the directory.
pub const DB_FILE: &str = "circle.db";
/// The hash key's file name.
pub const KEY_FILE: &str = "hash.key";
/// SQLite's side files, named after the database.
const SIDE_FILES: [&str; 3] = ["circle.db-wal", "circle.db-shm", "circle.db-journal"];

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// A new file only its owner can read and write.
fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates `dir` (and its parents) owner-only, tightens what is in it, and
/// makes sure the database file exists owner-only before SQLite opens it;
/// the database file's path.
pub fn prepare(dir: &Path) -> io::Result<PathBuf> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    if let Err(err) = set_mode(dir, 0o700) {
        // Someone else's directory (say /tmp): the files stay private anyway.
        tracing::warn!(error = %err, "could not make the data directory owner-only");
    }
    let db = dir.join(DB_FILE);
    match create_private(&db) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => set_mode(&db, 0o600)?,
        Err(err) => return Err(err),
    }
    for side in SIDE_FILES.iter().chain([&KEY_FILE]) {
        let path = dir.join(side);
        if path.exists() {
            set_mode(&path, 0o600)?;
        }
    }
    Ok(db)
}

/// The hash key kept in `dir` (`hash.key`, created owner-only on first start).
pub fn hash_key_in(dir: &Path) -> io::Result<HashKey> {
    let path = dir.join(KEY_FILE);
    match fs::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(HashKey::new(bytes)),
        Ok(_) => fs::remove_file(&path)?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let key = circle_shared::secrets::token(48);
    io::Write::write_all(&mut create_private(&path)?, key.as_bytes())?;
    Ok(HashKey::new(key.into_bytes()))
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("exists").permissions().mode() & 0o777
    }

    fn scratch() -> PathBuf {
        std::env::temp_dir().join(format!("circle-data-{}", circle_shared::secrets::token(12)))
    }

    #[test]
    fn a_new_directory_and_its_files_are_owner_only() {
        let root = scratch();
        let dir = root.join(".circle");
        let db = prepare(&dir).expect("prepared");
        let key = hash_key_in(&dir).expect("a key");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        let again = hash_key_in(&dir).expect("the same key");
        assert_eq!(
            key.hash("x", "y"),
            again.hash("x", "y"),
            "the key survives a restart"
        );
        fs::remove_dir_all(&root).expect("cleaned up");
    }

    #[test]
    fn an_existing_open_directory_is_tightened() {
        let dir = scratch();
        fs::create_dir_all(&dir).expect("created");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("opened up");
        for name in [DB_FILE, "circle.db-wal", KEY_FILE] {
            fs::write(dir.join(name), [0u8; 48]).expect("written");
            fs::set_permissions(dir.join(name), fs::Permissions::from_mode(0o644))
                .expect("opened up");
        }
        prepare(&dir).expect("prepared");
        assert_eq!(mode(&dir), 0o700);
        for name in [DB_FILE, "circle.db-wal", KEY_FILE] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        fs::remove_dir_all(&dir).expect("cleaned up");
    }
}
