//! From a line of text to a [`Command`], with no I/O: tokenizing (quotes, escapes, comments),
//! splitting `a; b` into commands, flags, and the typed arguments of every command.

use std::collections::BTreeMap;

use base64::Engine;
use zk_proto::ops::watcher_type;
use zk_proto::{Acl, CreateMode};

use super::acl::parse_acl;
use super::spec::{self, CommandSpec};

/// A path, optionally on another cluster: `NAME:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub cluster: Option<String>,
    pub path: String,
}

impl Location {
    /// `NAME:/path` when the part before `:` looks like a cluster name and the rest is absolute.
    pub fn parse(s: &str) -> Location {
        if let Some((name, path)) = s.split_once(':') {
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if is_name && path.starts_with('/') {
                return Location {
                    cluster: Some(name.to_string()),
                    path: path.to_string(),
                };
            }
        }
        Location {
            cluster: None,
            path: s.to_string(),
        }
    }
}

/// How `get` shows data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// UTF-8 as text, anything else as a hex dump.
    Auto,
    Hex,
    Base64,
}

/// One parsed command. Paths are as typed (maybe relative); the executor resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ls {
        path: Option<String>,
        stat: bool,
        watch: bool,
        recursive: bool,
    },
    Get {
        path: String,
        stat: bool,
        watch: bool,
        format: DataFormat,
    },
    Set {
        path: String,
        data: Vec<u8>,
        stat: bool,
        version: i32,
    },
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Option<Vec<Acl>>,
        mode: CreateMode,
        ttl_ms: Option<i64>,
    },
    Delete {
        path: String,
        version: i32,
    },
    DeleteAll {
        path: String,
    },
    Stat {
        path: String,
        watch: bool,
    },
    Sync {
        path: String,
    },
    GetAcl {
        path: String,
        stat: bool,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        recursive: bool,
        version: i32,
        stat: bool,
    },
    AddAuth {
        scheme: String,
        auth: String,
    },
    AddWatch {
        path: String,
        recursive: bool,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
        local: bool,
    },
    GetAllChildrenNumber {
        path: String,
    },
    GetEphemerals {
        path: Option<String>,
    },
    WhoAmI,
    Config {
        stat: bool,
    },
    Connect {
        target: String,
        name: Option<String>,
    },
    Close,
    History,
    Redo {
        index: usize,
    },
    Quit,
    PrintWatches {
        on: Option<bool>,
    },
    Version,
    Cd {
        path: Option<String>,
    },
    Pwd,
    Tree {
        path: Option<String>,
        depth: Option<usize>,
    },
    Find {
        path: Option<String>,
        pattern: String,
    },
    Grep {
        path: Option<String>,
        text: String,
        ignore_case: bool,
    },
    Du {
        path: Option<String>,
    },
    Cp {
        src: Location,
        dst: Location,
        recursive: bool,
    },
    Diff {
        a: Location,
        b: Location,
    },
    Watch {
        path: Option<String>,
        count: Option<usize>,
        seconds: Option<u64>,
    },
    Txn,
    Check {
        path: String,
        version: i32,
    },
    Commit,
    Abort,
    Edit {
        path: String,
    },
    Servers,
    Use {
        name: String,
    },
    Clusters,
    Help {
        topic: Option<String>,
    },
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command {0:?} (try help)")]
    UnknownCommand(String),
    #[error("{cmd}: {message}\nusage: {synopsis}")]
    Usage {
        cmd: &'static str,
        message: String,
        synopsis: &'static str,
    },
    #[error("unterminated quote")]
    UnterminatedQuote,
}

/// Splits a script line into commands at unquoted `;`, dropping `#` comments.
pub fn split_commands(line: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, ';') => out.push(std::mem::take(&mut cur)),
            (None, '#') if cur.trim().is_empty() || cur.ends_with(char::is_whitespace) => break,
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (_, '\\') => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(ParseError::UnterminatedQuote);
    }
    out.push(cur);
    Ok(out.into_iter().filter(|c| !c.trim().is_empty()).collect())
}

/// Splits one command into words: whitespace separates, '...' is literal, "..." allows
/// `\"`, `\\`, `\n`, `\t`; a backslash outside quotes escapes the next character.
pub fn tokenize(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(ParseError::UnterminatedQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                read_double_quoted(&mut chars, &mut cur)?;
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn read_double_quoted(chars: &mut std::str::Chars<'_>, cur: &mut String) -> Result<(), ParseError> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some('n') => cur.push('\n'),
                Some('t') => cur.push('\t'),
                Some(c) => cur.push(c),
                None => return Err(ParseError::UnterminatedQuote),
            },
            Some(c) => cur.push(c),
            None => return Err(ParseError::UnterminatedQuote),
        }
    }
}

/// Words split into flags (with their values) and positionals, checked against the spec.
struct Args {
    spec: &'static CommandSpec,
    flags: BTreeMap<&'static str, Option<String>>,
    pos: Vec<String>,
}

impl Args {
    fn parse(spec: &'static CommandSpec, words: &[String]) -> Result<Args, ParseError> {
        let mut args = Args {
            spec,
            flags: BTreeMap::new(),
            pos: Vec::new(),
        };
        let mut it = words.iter();
        let mut flags_done = false;
        while let Some(w) = it.next() {
            if flags_done || !w.starts_with('-') || w == "-" || w.parse::<i64>().is_ok() {
                args.pos.push(w.clone());
            } else if w == "--" {
                flags_done = true;
            } else {
                args.take_flag(w, &mut it)?;
            }
        }
        Ok(args)
    }

    fn take_flag(
        &mut self,
        word: &str,
        rest: &mut std::slice::Iter<'_, String>,
    ) -> Result<(), ParseError> {
        if let Some(f) = self.spec.flags.iter().find(|f| f.name == word) {
            let value = if f.takes_value {
                let v = rest
                    .next()
                    .ok_or_else(|| self.usage(format!("{word} needs a value")))?;
                Some(v.clone())
            } else {
                None
            };
            self.flags.insert(f.name, value);
            return Ok(());
        }
        // -sw: several boolean flags in one word.
        for ch in word[1..].chars() {
            let name = format!("-{ch}");
            let f = self
                .spec
                .flags
                .iter()
                .find(|f| f.name == name && !f.takes_value);
            let f = f.ok_or_else(|| self.usage(format!("unknown flag {word}")))?;
            self.flags.insert(f.name, None);
        }
        Ok(())
    }

    fn usage(&self, message: String) -> ParseError {
        ParseError::Usage {
            cmd: self.spec.name,
            message,
            synopsis: self.spec.synopsis,
        }
    }

    fn has(&self, f: &str) -> bool {
        self.flags.contains_key(f)
    }

    fn value(&self, f: &str) -> Option<&str> {
        self.flags.get(f).and_then(|v| v.as_deref())
    }

    fn int<T: std::str::FromStr>(&self, f: &str) -> Result<Option<T>, ParseError> {
        match self.value(f) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.usage(format!("{f} needs a number, not {v:?}"))),
        }
    }

    fn positional(&self, min: usize, max: usize) -> Result<(), ParseError> {
        match self.pos.len() {
            n if n < min => Err(self.usage("missing argument".into())),
            n if n > max => Err(self.usage(format!("unexpected argument {:?}", self.pos[max]))),
            _ => Ok(()),
        }
    }

    fn arg(&self, i: usize) -> String {
        self.pos[i].clone()
    }

    fn opt_arg(&self, i: usize) -> Option<String> {
        self.pos.get(i).cloned()
    }
}

/// Parses one command (already split from others). An empty line is `Ok(None)`.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    let words = tokenize(line)?;
    let Some((name, rest)) = words.split_first() else {
        return Ok(None);
    };
    let name = alias(name);
    let spec = spec::find(name).ok_or_else(|| ParseError::UnknownCommand(name.to_string()))?;
    let a = Args::parse(spec, rest)?;
    parse_args(&a).map(Some)
}

fn alias(name: &str) -> &str {
    match name {
        "exit" => "quit",
        "exists" => "stat",
        "rmr" => "deleteall",
        "rm" => "delete",
        _ => name,
    }
}

fn parse_args(a: &Args) -> Result<Command, ParseError> {
    match a.spec.name {
        "ls" | "get" | "set" | "create" | "delete" | "deleteall" | "stat" | "sync" => {
            parse_node_command(a)
        }
        "getAcl" | "setAcl" | "addauth" | "addWatch" | "removewatches" => parse_acl_watch(a),
        "cd" | "pwd" | "tree" | "find" | "grep" | "du" | "cp" | "diff" | "watch" | "edit" => {
            parse_beyond(a)
        }
        "txn" | "check" | "commit" | "abort" => parse_txn(a),
        _ => parse_session(a),
    }
}

fn parse_node_command(a: &Args) -> Result<Command, ParseError> {
    Ok(match a.spec.name {
        "ls" => {
            a.positional(0, 1)?;
            Command::Ls {
                path: a.opt_arg(0),
                stat: a.has("-s"),
                watch: a.has("-w"),
                recursive: a.has("-R"),
            }
        }
        "get" => {
            a.positional(1, 1)?;
            let format = match (a.has("-x"), a.has("-b")) {
                (true, true) => return Err(a.usage("-x and -b exclude each other".into())),
                (true, false) => DataFormat::Hex,
                (false, true) => DataFormat::Base64,
                (false, false) => DataFormat::Auto,
            };
            Command::Get {
                path: a.arg(0),
                stat: a.has("-s"),
                watch: a.has("-w"),
                format,
            }
        }
        "set" => parse_set(a)?,
        "create" => parse_create(a)?,
        "delete" => {
            a.positional(1, 1)?;
            Command::Delete {
                path: a.arg(0),
                version: a.int("-v")?.unwrap_or(-1),
            }
        }
        "deleteall" => {
            a.positional(1, 1)?;
            Command::DeleteAll { path: a.arg(0) }
        }
        "stat" => {
            a.positional(1, 1)?;
            Command::Stat {
                path: a.arg(0),
                watch: a.has("-w"),
            }
        }
        _ => {
            a.positional(1, 1)?;
            Command::Sync { path: a.arg(0) }
        }
    })
}

fn parse_set(a: &Args) -> Result<Command, ParseError> {
    a.positional(2, 2)?;
    let text = a.arg(1);
    let data = if a.has("-b") {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| a.usage(format!("data is not base64: {e}")))?
    } else {
        text.into_bytes()
    };
    Ok(Command::Set {
        path: a.arg(0),
        data,
        stat: a.has("-s"),
        version: a.int("-v")?.unwrap_or(-1),
    })
}

fn parse_create(a: &Args) -> Result<Command, ParseError> {
    a.positional(1, 3)?;
    let ttl_ms: Option<i64> = a.int("-t")?;
    let (s, e, c) = (a.has("-s"), a.has("-e"), a.has("-c"));
    let mode = match (s, e, c, ttl_ms.is_some()) {
        (_, _, true, _) if s || e || ttl_ms.is_some() => {
            return Err(a.usage("-c cannot be combined with -s, -e or -t".into()))
        }
        (_, true, _, true) => return Err(a.usage("-e cannot be combined with -t".into())),
        (false, false, true, false) => CreateMode::Container,
        (true, _, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, _, _, true) => CreateMode::PersistentWithTtl,
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::PersistentSequential,
        (false, true, _, _) => CreateMode::Ephemeral,
        (false, false, false, false) => CreateMode::Persistent,
    };
    let acl = match a.opt_arg(2) {
        Some(text) => Some(parse_acl(&text).map_err(|m| a.usage(m))?),
        None => None,
    };
    Ok(Command::Create {
        path: a.arg(0),
        data: a.opt_arg(1).map(String::into_bytes),
        acl,
        mode,
        ttl_ms,
    })
}

fn parse_acl_watch(a: &Args) -> Result<Command, ParseError> {
    Ok(match a.spec.name {
        "getAcl" => {
            a.positional(1, 1)?;
            Command::GetAcl {
                path: a.arg(0),
                stat: a.has("-s"),
            }
        }
        "setAcl" => {
            a.positional(2, 2)?;
            Command::SetAcl {
                path: a.arg(0),
                acl: parse_acl(&a.arg(1)).map_err(|m| a.usage(m))?,
                recursive: a.has("-R"),
                version: a.int("-v")?.unwrap_or(-1),
                stat: a.has("-s"),
            }
        }
        "addauth" => {
            a.positional(1, 2)?;
            Command::AddAuth {
                scheme: a.arg(0),
                auth: a.opt_arg(1).unwrap_or_default(),
            }
        }
        "addWatch" => {
            a.positional(1, 1)?;
            let recursive = match a.value("-m") {
                None | Some("PERSISTENT_RECURSIVE") => true,
                Some("PERSISTENT") => false,
                Some(m) => return Err(a.usage(format!("unknown mode {m:?}"))),
            };
            Command::AddWatch {
                path: a.arg(0),
                recursive,
            }
        }
        _ => {
            a.positional(1, 1)?;
            let watcher_type = if a.has("-c") {
                watcher_type::CHILDREN
            } else if a.has("-d") {
                watcher_type::DATA
            } else {
                watcher_type::ANY
            };
            Command::RemoveWatches {
                path: a.arg(0),
                watcher_type,
                local: a.has("-l"),
            }
        }
    })
}

fn parse_beyond(a: &Args) -> Result<Command, ParseError> {
    Ok(match a.spec.name {
        "cd" => {
            a.positional(0, 1)?;
            Command::Cd { path: a.opt_arg(0) }
        }
        "pwd" => {
            a.positional(0, 0)?;
            Command::Pwd
        }
        "tree" => {
            a.positional(0, 2)?;
            let depth = match a.opt_arg(1) {
                Some(d) => Some(d.parse().map_err(|_| a.usage(format!("bad depth {d:?}")))?),
                None => None,
            };
            Command::Tree {
                path: a.opt_arg(0),
                depth,
            }
        }
        "find" => {
            a.positional(1, 2)?;
            let (path, pattern) = path_then(a);
            Command::Find { path, pattern }
        }
        "grep" => {
            a.positional(1, 2)?;
            let (path, text) = path_then(a);
            Command::Grep {
                path,
                text,
                ignore_case: a.has("-i"),
            }
        }
        "du" => {
            a.positional(0, 1)?;
            Command::Du { path: a.opt_arg(0) }
        }
        "cp" => {
            a.positional(2, 2)?;
            Command::Cp {
                src: Location::parse(&a.arg(0)),
                dst: Location::parse(&a.arg(1)),
                recursive: a.has("-r"),
            }
        }
        "diff" => {
            a.positional(2, 2)?;
            Command::Diff {
                a: Location::parse(&a.arg(0)),
                b: Location::parse(&a.arg(1)),
            }
        }
        "watch" => {
            a.positional(0, 1)?;
            Command::Watch {
                path: a.opt_arg(0),
                count: a.int("-n")?,
                seconds: a.int("-t")?,
            }
        }
        _ => {
            a.positional(1, 1)?;
            Command::Edit { path: a.arg(0) }
        }
    })
}

/// `[path] last`: one argument is the last one alone.
fn path_then(a: &Args) -> (Option<String>, String) {
    if a.pos.len() == 2 {
        (Some(a.arg(0)), a.arg(1))
    } else {
        (None, a.arg(0))
    }
}

fn parse_txn(a: &Args) -> Result<Command, ParseError> {
    Ok(match a.spec.name {
        "check" => {
            a.positional(2, 2)?;
            let v = a.arg(1);
            let version = v
                .parse()
                .map_err(|_| a.usage(format!("bad version {v:?}")))?;
            Command::Check {
                path: a.arg(0),
                version,
            }
        }
        name => {
            a.positional(0, 0)?;
            match name {
                "txn" => Command::Txn,
                "commit" => Command::Commit,
                _ => Command::Abort,
            }
        }
    })
}

fn parse_session(a: &Args) -> Result<Command, ParseError> {
    let no_args = |c: Command| a.positional(0, 0).map(|_| c);
    match a.spec.name {
        "whoami" => no_args(Command::WhoAmI),
        "config" => no_args(Command::Config { stat: a.has("-s") }),
        "close" => no_args(Command::Close),
        "history" => no_args(Command::History),
        "quit" => no_args(Command::Quit),
        "version" => no_args(Command::Version),
        "servers" => no_args(Command::Servers),
        "clusters" => no_args(Command::Clusters),
        "getAllChildrenNumber" => {
            a.positional(1, 1)?;
            Ok(Command::GetAllChildrenNumber { path: a.arg(0) })
        }
        "getEphemerals" => {
            a.positional(0, 1)?;
            Ok(Command::GetEphemerals { path: a.opt_arg(0) })
        }
        _ => parse_session_args(a),
    }
}

fn parse_session_args(a: &Args) -> Result<Command, ParseError> {
    match a.spec.name {
        "connect" => {
            a.positional(1, 1)?;
            Ok(Command::Connect {
                target: a.arg(0),
                name: a.value("-n").map(str::to_string),
            })
        }
        "redo" => {
            a.positional(1, 1)?;
            let n = a.arg(0);
            let index = n
                .parse()
                .map_err(|_| a.usage(format!("bad number {n:?}")))?;
            Ok(Command::Redo { index })
        }
        "printwatches" => {
            a.positional(0, 1)?;
            let on = match a.opt_arg(0).as_deref() {
                None => None,
                Some("on") => Some(true),
                Some("off") => Some(false),
                Some(x) => return Err(a.usage(format!("expected on or off, not {x:?}"))),
            };
            Ok(Command::PrintWatches { on })
        }
        "use" => {
            a.positional(1, 1)?;
            Ok(Command::Use { name: a.arg(0) })
        }
        _ => {
            a.positional(0, 1)?;
            Ok(Command::Help {
                topic: a.opt_arg(0),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Command {
        parse(line).unwrap().unwrap()
    }

    #[test]
    fn tokenizer_handles_quotes_escapes_and_comments() {
        assert_eq!(
            tokenize(r#"set /a "x y\n" 'z\q' a\ b"#).unwrap(),
            ["set", "/a", "x y\n", "z\\q", "a b"]
        );
        assert_eq!(tokenize(r#"create /a """#).unwrap(), ["create", "/a", ""]);
        assert!(tokenize("get 'x").is_err());
        assert_eq!(
            split_commands("ls /; get '/a;b' # c").unwrap(),
            ["ls /", " get '/a;b' "]
        );
        assert!(split_commands("# only a comment").unwrap().is_empty());
    }

    #[test]
    fn zkcli_flags_anywhere_and_combined() {
        assert_eq!(
            p("ls -s -w /a"),
            Command::Ls {
                path: Some("/a".into()),
                stat: true,
                watch: true,
                recursive: false
            }
        );
        assert_eq!(
            p("ls /a -sR"),
            Command::Ls {
                path: Some("/a".into()),
                stat: true,
                watch: false,
                recursive: true
            }
        );
        assert_eq!(
            p("set -v 3 /a -- -data"),
            Command::Set {
                path: "/a".into(),
                data: b"-data".to_vec(),
                stat: false,
                version: 3
            }
        );
        assert_eq!(
            p("delete -v -1 /a"),
            Command::Delete {
                path: "/a".into(),
                version: -1
            }
        );
        assert!(matches!(parse("ls -q /"), Err(ParseError::Usage { .. })));
        assert!(matches!(parse("nope"), Err(ParseError::UnknownCommand(_))));
    }

    #[test]
    fn create_modes_follow_the_flags() {
        let mode = |l: &str| match p(l) {
            Command::Create { mode, .. } => mode,
            other => panic!("{other:?}"),
        };
        assert_eq!(mode("create /a"), CreateMode::Persistent);
        assert_eq!(mode("create -e -s /a"), CreateMode::EphemeralSequential);
        assert_eq!(mode("create -c /a"), CreateMode::Container);
        assert_eq!(mode("create -t 500 /a"), CreateMode::PersistentWithTtl);
        assert_eq!(
            mode("create -s -t 500 /a"),
            CreateMode::PersistentSequentialWithTtl
        );
        assert!(parse("create -e -t 5 /a").is_err());
        assert!(parse("create -c -s /a").is_err());
        match p("create /a data world:anyone:r") {
            Command::Create { data, acl, .. } => {
                assert_eq!(data.as_deref(), Some(&b"data"[..]));
                assert_eq!(acl.unwrap(), vec![Acl::new(1, "world", "anyone")]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn locations_name_clusters() {
        assert_eq!(Location::parse("prod:/a").cluster.as_deref(), Some("prod"));
        assert_eq!(Location::parse("/a:b").cluster, None);
        assert_eq!(Location::parse("rel").cluster, None);
        assert_eq!(
            p("cp -r a:/x /y"),
            Command::Cp {
                src: Location::parse("a:/x"),
                dst: Location::parse("/y"),
                recursive: true
            }
        );
    }

    #[test]
    fn optional_leading_paths() {
        assert_eq!(
            p("find *.cfg"),
            Command::Find {
                path: None,
                pattern: "*.cfg".into()
            }
        );
        assert_eq!(
            p("grep -i /a text"),
            Command::Grep {
                path: Some("/a".into()),
                text: "text".into(),
                ignore_case: true
            }
        );
        assert_eq!(
            p("tree / 2"),
            Command::Tree {
                path: Some("/".into()),
                depth: Some(2)
            }
        );
        assert_eq!(
            p("addWatch -m PERSISTENT /a"),
            Command::AddWatch {
                path: "/a".into(),
                recursive: false
            }
        );
        assert_eq!(p("exit"), Command::Quit);
    }

    #[test]
    fn every_command_in_the_table_parses_its_synopsis_example() {
        for spec in spec::COMMANDS {
            assert!(spec.synopsis.starts_with(spec.name), "{}", spec.name);
        }
    }
}
