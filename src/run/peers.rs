//! How many connections a run's socket has open now, from the kernel's table of Unix sockets
//! (`/proc/net/unix`): an accepted connection is listed under the listening socket's path, in
//! the connected state, until both of its ends are closed. A finished run waits for this to
//! reach zero, so its last messages leave before the process does; `ps` counts viewers with it.

use std::path::Path;

/// `St` of a connected socket (`SS_CONNECTED`) in `/proc/net/unix`.
const CONNECTED: &str = "03";

/// Connections open on the socket at `path`; `None` where the table cannot be read.
pub fn connections(path: &Path) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    Some(count(&table, path))
}

/// Lines of `table` for `path` in the connected state.
fn count(table: &str, path: &Path) -> usize {
    let path = path.as_os_str().to_string_lossy();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            // Num RefCount Protocol Flags Type St Inode Path
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() >= 8 && fields[5] == CONNECTED && fields[7..].join(" ") == path
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn counts_the_connections_accepted_on_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            connections(&path),
            Some(0),
            "the listener itself is not one"
        );
        let a = UnixStream::connect(&path).unwrap();
        let (a_served, _) = listener.accept().unwrap();
        let b = UnixStream::connect(&path).unwrap();
        let (b_served, _) = listener.accept().unwrap();
        assert_eq!(connections(&path), Some(2));
        drop((a, a_served));
        assert_eq!(connections(&path), Some(1));
        drop((b, b_served));
        assert_eq!(connections(&path), Some(0));
    }

    #[test]
    fn reads_the_kernel_table_format() {
        // Lines as Linux 6.x prints them: a listener (St 01), an accepted connection (03), and
        // an unnamed client end (no path).
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            0000000000000000: 00000002 00000000 00010000 0001 01 100 /r/sock\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 101 /r/sock\n\
            0000000000000000: 00000003 00000000 00000000 0001 03 102\n";
        assert_eq!(count(table, Path::new("/r/sock")), 1);
        assert_eq!(count(table, Path::new("/r/other")), 0);
    }
}
