//! The ZooKeeper transaction id: `epoch << 32 | counter`.

use std::fmt;

/// A zxid as a server reports it. The upper 32 bits are the leader's epoch, the lower 32 bits
/// count the transactions of that epoch (counter 0 is the epoch's start, never a transaction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zxid(pub u64);

/// The counter value at which Apache's leader steps down to start a new epoch.
pub const COUNTER_MAX: u64 = 0xffff_ffff;

impl Zxid {
    /// The epoch of the leader that proposed this transaction.
    pub fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The transaction's number within its epoch.
    pub fn counter(self) -> u32 {
        self.0 as u32
    }

    /// Parses `0x10000012f` (srvr) or a plain decimal (AdminServer `last_processed_zxid`).
    pub fn parse(text: &str) -> Option<Zxid> {
        let text = text.trim();
        match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok().map(Zxid),
            None => text.parse::<u64>().ok().map(Zxid),
        }
    }

    /// How many transactions `self` (a server) is behind `leader`.
    ///
    /// Within one epoch this is the counter difference. A server still showing an older epoch
    /// has not applied any transaction of the leader's epoch, so it lacks all of them (Apache
    /// followers keep their old zxid after an election until the first new transaction).
    pub fn lag_behind(self, leader: Zxid) -> u64 {
        if self.epoch() == leader.epoch() {
            u64::from(leader.counter().saturating_sub(self.counter()))
        } else if self.epoch() < leader.epoch() {
            u64::from(leader.counter())
        } else {
            0
        }
    }
}

impl fmt::Display for Zxid {
    /// `epoch:counter` in decimal, which is what an operator compares by eye.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.epoch(), self.counter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_epoch_and_counter() {
        let z = Zxid::parse("0x10000012f").unwrap();
        assert_eq!((z.epoch(), z.counter()), (1, 0x12f));
        assert_eq!(z.to_string(), "1:303");
        assert_eq!(Zxid::parse("0x0"), Some(Zxid(0)));
        assert_eq!(Zxid::parse("8589934614"), Some(Zxid(0x2_0000_0016)));
        assert_eq!(Zxid::parse("zz"), None);
    }

    #[test]
    fn lag_counts_transactions_of_the_leader_epoch() {
        let leader = Zxid(0x2_0000_0010);
        assert_eq!(Zxid(0x2_0000_0004).lag_behind(leader), 12);
        assert_eq!(Zxid(0x1_0000_0fff).lag_behind(leader), 16);
        assert_eq!(Zxid(0x2_0000_0011).lag_behind(leader), 0);
        assert_eq!(Zxid(0x3_0000_0000).lag_behind(leader), 0);
    }
}
