//! [`ClaimRequirement`]: a required value of one claim (exact, one of, contains).

use serde_json::Value;

use super::path::ClaimPath;
use super::requirement::Requirement;

/// The first half of a claim requirement, from [`Requirement::claim`]: which claim. Its
/// methods say what the claim must hold.
///
/// Values compare as JSON, type included: `"1"` is not `1`, `"true"` is not `true`, and
/// `"Acme"` is not `"acme"`. A claim that is absent, or of another type, fails.
///
/// ```
/// use tokengate::require::Requirement;
///
/// let tenant = Requirement::claim("tenant").equals("acme");
/// let region = Requirement::claim("region").one_of(["eu", "ch"]);
/// let amr = Requirement::claim("amr").contains("mfa");
/// ```
#[derive(Clone, Debug)]
#[must_use = "a claim requirement needs a value: .equals(..), .one_of(..) or .contains(..)"]
pub struct ClaimRequirement {
    pub(super) path: ClaimPath,
}

/// What a claim must hold.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ClaimTest {
    Equals(Value),
    OneOf(Box<[Value]>),
    Contains(Value),
}

impl ClaimRequirement {
    /// The claim is exactly `value`.
    pub fn equals(self, value: impl Into<Value>) -> Requirement {
        Requirement::from_claim(self.path, ClaimTest::Equals(value.into()))
    }

    /// The claim is exactly one of `values` (none: never met).
    pub fn one_of<I, V>(self, values: I) -> Requirement
    where
        I: IntoIterator<Item = V>,
        V: Into<Value>,
    {
        let values = values.into_iter().map(Into::into).collect();
        Requirement::from_claim(self.path, ClaimTest::OneOf(values))
    }

    /// The claim is an array with `value` among its elements (RFC 8176 `amr`, say). A
    /// string claim is not searched: `"mfa pwd"` does not contain `"mfa"`.
    pub fn contains(self, value: impl Into<Value>) -> Requirement {
        Requirement::from_claim(self.path, ClaimTest::Contains(value.into()))
    }
}

impl ClaimTest {
    pub(super) fn holds(&self, claim: Option<&Value>) -> bool {
        let Some(claim) = claim else {
            return false;
        };
        match self {
            ClaimTest::Equals(value) => claim == value,
            ClaimTest::OneOf(values) => values.contains(claim),
            ClaimTest::Contains(value) => claim.as_array().is_some_and(|a| a.contains(value)),
        }
    }
}
