//! Java collection iteration orders that reach the wire. Apache keeps some sets in hash maps, and
//! the order it iterates them is visible to clients (the order of `whoAmI` entries, of the ids an
//! `auth` ACL expands to, of the deletes — and so the watch events — when a session closes). We
//! compute the same order from the same hash functions so clients cannot tell us apart.

/// Java's `String.hashCode` (over UTF-16 code units, wrapping).
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `HashMap.hash`: the high half folded into the low half.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// `HashMap.tableSizeFor`: the next power of two.
fn table_size_for(cap: usize) -> usize {
    cap.max(1).next_power_of_two()
}

/// Default-capacity table (16) grown by doubling past 0.75 load, as it is after `n` adds.
fn grown_table(n: usize) -> usize {
    let mut t = 16;
    while n > t * 3 / 4 {
        t *= 2;
    }
    t
}

/// Iteration order of a `java.util.HashSet<String>` filled with `items` in the given order and
/// then `clone()`d (what `DataTree.getEphemerals` returns): first the original set's order
/// (bucket, then insertion), then the clone re-buckets into a table sized for its length.
pub fn cloned_hash_set_order(items: Vec<String>) -> Vec<String> {
    let n = items.len();
    let orig = grown_table(n) as u32;
    let mut v: Vec<(usize, String)> = items.into_iter().enumerate().collect();
    v.sort_by_key(|(i, s)| (spread(string_hash(s)) & (orig - 1), *i));
    let clone = table_size_for(((n as f32 / 0.75) + 1.0) as usize) as u32;
    v.sort_by_key(|(_, s)| spread(string_hash(s)) & (clone - 1));
    v.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("hello"), 99162322);
        assert_eq!(
            string_hash("/zookeeper"),
            "/zookeeper"
                .encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
        );
    }

    #[test]
    fn single_bucket_keeps_insertion_order() {
        let got = cloned_hash_set_order(vec!["/x".into()]);
        assert_eq!(got, vec!["/x".to_string()]);
    }
}
