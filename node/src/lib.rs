//! zk-node: a ZooKeeper 3.8 compatible server.
