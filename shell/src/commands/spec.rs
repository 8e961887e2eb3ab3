//! The command table: names, flags, synopses and one-line help. The parser, `help`, tab
//! completion and hints all read this one table, so they cannot disagree.

/// A flag of a command: its letter(s) and whether it takes a value.
#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    pub name: &'static str,
    pub takes_value: bool,
    pub help: &'static str,
}

/// What a positional argument is, so completion knows what to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Path,
    /// A path, possibly `CLUSTER:/path`.
    Location,
    Cluster,
    Command,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    pub synopsis: &'static str,
    pub help: &'static str,
    pub flags: &'static [FlagSpec],
    pub args: &'static [ArgKind],
}

const fn flag(name: &'static str, help: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        takes_value: false,
        help,
    }
}

const fn opt(name: &'static str, help: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        takes_value: true,
        help,
    }
}

use ArgKind::*;

const STAT: FlagSpec = flag("-s", "also print the stat");
const WATCH: FlagSpec = flag("-w", "leave a watch");

/// Every command, zkCli.sh's first (same names and flags), then zksh's own.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "ls", synopsis: "ls [-s] [-w] [-R] [path]", help: "list the children of a node (-R: every descendant)", flags: &[STAT, WATCH, flag("-R", "recursive")], args: &[Path] },
    CommandSpec { name: "get", synopsis: "get [-s] [-w] [-x|-b] path", help: "print a node's data: UTF-8 as text, otherwise hex (-x hex, -b base64)", flags: &[STAT, WATCH, flag("-x", "hex dump"), flag("-b", "base64")], args: &[Path] },
    CommandSpec { name: "set", synopsis: "set [-s] [-v version] [-b] path data", help: "replace a node's data (-b: data is base64)", flags: &[STAT, opt("-v", "expected version"), flag("-b", "data is base64")], args: &[Path, Other] },
    CommandSpec { name: "create", synopsis: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", help: "create a node: -s sequential, -e ephemeral, -c container, -t TTL in ms", flags: &[flag("-s", "sequential"), flag("-e", "ephemeral"), flag("-c", "container"), opt("-t", "TTL in milliseconds")], args: &[Path, Other, Other] },
    CommandSpec { name: "delete", synopsis: "delete [-v version] path", help: "delete a node without children", flags: &[opt("-v", "expected version")], args: &[Path] },
    CommandSpec { name: "deleteall", synopsis: "deleteall path [-b batch]", help: "delete a node and everything under it (asks first)", flags: &[opt("-b", "accepted for zkCli compatibility")], args: &[Path] },
    CommandSpec { name: "stat", synopsis: "stat [-w] path", help: "print a node's stat", flags: &[WATCH], args: &[Path] },
    CommandSpec { name: "sync", synopsis: "sync path", help: "make the connected server catch up with the leader", flags: &[], args: &[Path] },
    CommandSpec { name: "getAcl", synopsis: "getAcl [-s] path", help: "print a node's ACL", flags: &[STAT], args: &[Path] },
    CommandSpec { name: "setAcl", synopsis: "setAcl [-s] [-v version] [-R] path acl", help: "replace a node's ACL, e.g. world:anyone:r,digest:alice:HASH:cdrwa (-R: the whole subtree, asks first)", flags: &[STAT, opt("-v", "expected ACL version"), flag("-R", "recursive")], args: &[Path, Other] },
    CommandSpec { name: "addauth", synopsis: "addauth scheme auth", help: "add credentials to the session, e.g. addauth digest alice:secret", flags: &[], args: &[Other, Other] },
    CommandSpec { name: "addWatch", synopsis: "addWatch [-m mode] path", help: "add a persistent watch; mode PERSISTENT or PERSISTENT_RECURSIVE (default)", flags: &[opt("-m", "PERSISTENT or PERSISTENT_RECURSIVE")], args: &[Path] },
    CommandSpec { name: "removewatches", synopsis: "removewatches path [-c|-d|-a] [-l]", help: "remove watches: -c child, -d data, -a any (default); -l only locally", flags: &[flag("-c", "child watches"), flag("-d", "data watches"), flag("-a", "any watch"), flag("-l", "remove locally only")], args: &[Path] },
    CommandSpec { name: "getAllChildrenNumber", synopsis: "getAllChildrenNumber path", help: "count every descendant of a node", flags: &[], args: &[Path] },
    CommandSpec { name: "getEphemerals", synopsis: "getEphemerals [path]", help: "list this session's ephemerals under a path", flags: &[], args: &[Path] },
    CommandSpec { name: "whoami", synopsis: "whoami", help: "print the identities of this session", flags: &[], args: &[] },
    CommandSpec { name: "config", synopsis: "config [-s]", help: "print the ensemble configuration (/zookeeper/config)", flags: &[STAT, flag("-c", "accepted for zkCli compatibility"), WATCH], args: &[] },
    CommandSpec { name: "connect", synopsis: "connect [-n name] NAME|host:port,...[/chroot]", help: "connect to a cluster from clusters.toml, or to a connect string", flags: &[opt("-n", "name for the new connection")], args: &[Cluster] },
    CommandSpec { name: "close", synopsis: "close", help: "close the current session", flags: &[], args: &[] },
    CommandSpec { name: "history", synopsis: "history", help: "list the commands run so far", flags: &[], args: &[] },
    CommandSpec { name: "redo", synopsis: "redo cmdno", help: "run a command from the history again", flags: &[], args: &[Other] },
    CommandSpec { name: "quit", synopsis: "quit", help: "leave the shell", flags: &[], args: &[] },
    CommandSpec { name: "printwatches", synopsis: "printwatches on|off", help: "print watch events as they arrive (on by default)", flags: &[], args: &[Other] },
    CommandSpec { name: "version", synopsis: "version", help: "print zksh's version", flags: &[], args: &[] },
    CommandSpec { name: "cd", synopsis: "cd [path|-]", help: "change the working path (relative paths, .., - for the previous one)", flags: &[], args: &[Path] },
    CommandSpec { name: "pwd", synopsis: "pwd", help: "print the working path", flags: &[], args: &[] },
    CommandSpec { name: "tree", synopsis: "tree [path] [depth]", help: "draw the subtree", flags: &[], args: &[Path, Other] },
    CommandSpec { name: "find", synopsis: "find [path] pattern", help: "paths matching a glob (* ? **); a pattern without / matches node names", flags: &[], args: &[Path, Other] },
    CommandSpec { name: "grep", synopsis: "grep [-i] [path] text", help: "nodes whose data contains text (-i: ignore case)", flags: &[flag("-i", "ignore case")], args: &[Path, Other] },
    CommandSpec { name: "du", synopsis: "du [path]", help: "bytes and node counts per child", flags: &[], args: &[Path] },
    CommandSpec { name: "cp", synopsis: "cp [-r] SRC DST", help: "copy data and ACLs; SRC/DST may be CLUSTER:/path (asks before overwriting)", flags: &[flag("-r", "recursive")], args: &[Location, Location] },
    CommandSpec { name: "diff", synopsis: "diff A B", help: "compare two subtrees (data and ACLs); A/B may be CLUSTER:/path", flags: &[], args: &[Location, Location] },
    CommandSpec { name: "watch", synopsis: "watch [-n count] [-t seconds] [path]", help: "print changes under a path as they happen, with their zxid (Ctrl-C stops)", flags: &[opt("-n", "stop after this many events"), opt("-t", "stop after this many seconds")], args: &[Path] },
    CommandSpec { name: "txn", synopsis: "txn", help: "start a transaction: create/set/delete/check are queued until commit", flags: &[], args: &[] },
    CommandSpec { name: "check", synopsis: "check path version", help: "in a transaction: require a node's version", flags: &[], args: &[Path, Other] },
    CommandSpec { name: "commit", synopsis: "commit", help: "run the queued transaction atomically", flags: &[], args: &[] },
    CommandSpec { name: "abort", synopsis: "abort", help: "drop the queued transaction", flags: &[], args: &[] },
    CommandSpec { name: "edit", synopsis: "edit path", help: "edit a node's data in $EDITOR", flags: &[], args: &[Path] },
    CommandSpec { name: "servers", synopsis: "servers", help: "every server of the cluster from srvr: mode, zxid, lag behind the leader", flags: &[], args: &[] },
    CommandSpec { name: "use", synopsis: "use NAME", help: "switch to another open connection", flags: &[], args: &[Cluster] },
    CommandSpec { name: "clusters", synopsis: "clusters", help: "list configured clusters and open connections", flags: &[], args: &[] },
    CommandSpec { name: "help", synopsis: "help [command]", help: "list commands, or describe one", flags: &[], args: &[Command] },
];

/// The spec of a command by name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}
