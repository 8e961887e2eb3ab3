//! Step tests of the core, written as data: feed events, compare the exact outputs.
