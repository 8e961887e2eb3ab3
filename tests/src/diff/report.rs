//! Comparing two transcripts and printing the differences.

use std::fmt::Write as _;

/// One scenario whose transcripts differ (or that failed to run).
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub name: &'static str,
    pub root: String,
    /// Set for scenarios that show a known, documented difference (not a failure).
    pub known_divergence: Option<&'static str>,
    pub a: Vec<String>,
    pub b: Vec<String>,
}

/// The outcome of a differential run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub a_label: String,
    pub b_label: String,
    pub ran: usize,
    pub equal: usize,
    /// Differences that count as failures.
    pub mismatches: Vec<Mismatch>,
    /// Differences in scenarios marked as known divergences.
    pub known: Vec<Mismatch>,
    /// Known-divergence scenarios whose transcripts came out equal.
    pub known_equal: Vec<&'static str>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// A summary line plus, for every mismatch, both transcripts as a diff.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "differential: A = {}, B = {}: {} scenarios, {} equal, {} mismatched, {} known divergences",
            self.a_label,
            self.b_label,
            self.ran,
            self.equal,
            self.mismatches.len(),
            self.known.len()
        );
        for m in &self.known {
            let _ = writeln!(
                out,
                "\n=== KNOWN DIVERGENCE {} ({}) — {} ===",
                m.name,
                m.root,
                m.known_divergence.unwrap_or("")
            );
            out.push_str(&diff_lines(&m.a, &m.b));
        }
        for name in &self.known_equal {
            let _ = writeln!(out, "known-divergence scenario {name} came out equal");
        }
        for m in &self.mismatches {
            let _ = writeln!(out, "\n=== MISMATCH {} ({}) ===", m.name, m.root);
            out.push_str(&diff_lines(&m.a, &m.b));
        }
        if !self.mismatches.is_empty() {
            let names: Vec<&str> = self.mismatches.iter().map(|m| m.name).collect();
            let _ = writeln!(out, "\nmismatched scenarios: {}", names.join(" "));
        }
        out
    }
}

/// A line diff of two transcripts (longest common subsequence): `  ` both, `A-` only in A,
/// `B+` only in B, so each differing line of A sits right above its counterpart in B.
pub fn diff_lines(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    let mut pend_a: Vec<&str> = Vec::new();
    let mut pend_b: Vec<&str> = Vec::new();
    let flush = |out: &mut String, pa: &mut Vec<&str>, pb: &mut Vec<&str>| {
        for k in 0..pa.len().max(pb.len()) {
            if let Some(l) = pa.get(k) {
                let _ = writeln!(out, "A- {l}");
            }
            if let Some(l) = pb.get(k) {
                let _ = writeln!(out, "B+ {l}");
            }
        }
        pa.clear();
        pb.clear();
    };
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            flush(&mut out, &mut pend_a, &mut pend_b);
            let _ = writeln!(out, "   {}", a[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            pend_b.push(&b[j]);
            j += 1;
        } else {
            pend_a.push(&a[i]);
            i += 1;
        }
    }
    flush(&mut out, &mut pend_a, &mut pend_b);
    out
}

#[cfg(test)]
mod tests {
    use super::diff_lines;

    #[test]
    fn pairs_changed_lines() {
        let a: Vec<String> = ["x", "y1", "z"].iter().map(|s| s.to_string()).collect();
        let b: Vec<String> = ["x", "y2", "z", "w"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(diff_lines(&a, &b), "   x\nA- y1\nB+ y2\n   z\nB+ w\n");
    }
}
