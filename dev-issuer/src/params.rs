//! Request parameters as RFC 6749 3.1 and 3.2 read them.

/// Request parameters, in order, duplicates kept so that they can be refused.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The value of `name`; "parameters sent without a value MUST be treated as if they
    /// were omitted" (RFC 6749 3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(n, _)| n == name).count()
    }

    /// The first parameter given more than once: "request and response parameters MUST
    /// NOT be included more than once" (RFC 6749 3.1, 3.2).
    pub(crate) fn duplicated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !seen.insert(*n))
    }
}
