//! "Did you mean": the known name closest to a misspelt one.

/// The candidate closest to `name`, if one is close enough to be a likely misspelling: the same
/// ignoring case, or a Jaro-Winkler similarity of at least 0.8 (ignoring case).
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    if let Some(same) = candidates.clone().into_iter().find(|c| c.to_lowercase() == lower) {
        return Some(same);
    }
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&lower, &candidate.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn close_and_far() {
        let names = ["global", "server", "agent", "worker"];
        assert_eq!(closest("serer", names), Some("server"));
        assert_eq!(closest("Server", names), Some("server"));
        assert_eq!(closest("agnet", names), Some("agent"));
        assert_eq!(closest("workers", names), Some("worker"));
        assert_eq!(closest("ui", names), None);
        assert_eq!(closest("database", names), None);
        let policies = ["Always", "IfNotPresent", "Never"];
        assert_eq!(closest("ifnotpresent", policies), Some("IfNotPresent"));
        assert_eq!(closest("Sometimes", policies), None);
    }
}
