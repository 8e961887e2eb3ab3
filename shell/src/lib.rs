//! zk-shell: client library, shell commands and migration engine.
