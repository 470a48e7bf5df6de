//! Several issuers behind one validator ([`Validator::any_of`]): each token is routed by
//! its `iss` (read before any key is looked up) to that issuer's own keys and policy, and
//! verified tokens of every issuer share one cache.

use std::collections::HashMap;
use std::sync::Arc;

use super::issuer::{Issuer, Routed};
use super::rejection::{Seen, refused};
use super::token_cache::{CachedToken, Slot, TokenCache, new_token_cache};
use super::{ConfigError, Kind, Validator};
use crate::error::{Error, InvalidToken};
use crate::format::is_jws_shaped;

/// The members of [`Validator::any_of`] and the one token cache they share.
pub(super) struct Issuers {
    /// Single-issuer validators, sorted by issuer identifier.
    pub(super) members: Vec<Validator>,
    /// Issuer identifier → index into `members`.
    index: HashMap<String, usize>,
    /// The members with an issuer template (multi-tenant issuers), in order: a token
    /// whose `iss` no member names exactly goes to the first whose template it fits.
    templates: Vec<usize>,
    /// Tokens any member verified, each entry naming its member: a repeated token is
    /// found, routed and answered by one lookup, without its payload being decoded to
    /// read `iss`. Members' own caches go unused; a member configured without a cache
    /// puts nothing here. `None` when no member caches tokens.
    pub(super) token_cache: Option<TokenCache>,
    /// The largest size cap of any member: the bound before any hashing or decoding.
    max_token_bytes: usize,
    /// The member that introspects opaque tokens, if one does: a token not shaped like a
    /// JWT names no issuer, so it goes there.
    introspecting: Option<usize>,
}

/// [`Validator::any_of`]: flattens nested sets, sorts and indexes the members, and sizes
/// the shared cache.
pub(super) fn any_of(
    validators: impl IntoIterator<Item = Validator>,
) -> Result<Validator, ConfigError> {
    let mut members: Vec<Validator> = Vec::new();
    for validator in validators {
        match &*validator.inner {
            Kind::One(_) => members.push(validator.clone()),
            Kind::Many(inner) => members.extend(inner.members.iter().cloned()),
        }
    }
    if members.is_empty() {
        return Err(ConfigError::MissingIssuer);
    }
    members.sort_by(|a, b| a.issuer().cmp(b.issuer()));
    let mut index = HashMap::new();
    for (i, member) in members.iter().enumerate() {
        let issuer = member.issuer().to_owned();
        if index.insert(issuer.clone(), i).is_some() {
            return Err(ConfigError::DuplicateIssuer(issuer));
        }
    }
    let singles = || members.iter().map(Validator::single);
    let templates = singles()
        .enumerate()
        .filter(|(_, m)| m.policy.issuer_template.is_some())
        .map(|(i, _)| i)
        .collect();
    let max_token_bytes = singles().map(|m| m.max_token_bytes).max().unwrap_or(0);
    // Room for what the members' caches would have held together; each entry's
    // lifetime is still its own member's (set when it is verified).
    let capacities: Vec<u64> = singles()
        .filter_map(|m| Some(m.token_cache.as_ref()?.capacity()))
        .collect();
    let token_cache = (!capacities.is_empty()).then(|| new_token_cache(capacities.iter().sum()));
    let mut introspecting = singles()
        .enumerate()
        .filter(|(_, m)| m.introspects_opaque_tokens())
        .map(|(i, _)| i);
    let (first, second) = (introspecting.next(), introspecting.next());
    if second.is_some() {
        return Err(ConfigError::SeveralIntrospectingIssuers);
    }
    Ok(Validator {
        inner: Arc::new(Kind::Many(Issuers {
            members,
            index,
            templates,
            token_cache,
            max_token_bytes,
            introspecting: first,
        })),
    })
}

impl Issuers {
    /// The shared cache's entry for `token`, its member and that member, if the cache
    /// holds one (`route` looks there first); nothing is recorded or logged.
    pub(super) fn lookup<'v>(
        &'v self,
        token: &[u8],
    ) -> Option<(usize, &'v Issuer, Slot<'v>, Arc<CachedToken>)> {
        if token.len() > self.max_token_bytes {
            return None;
        }
        let slot = Slot::new(self.token_cache.as_ref()?, 0, token);
        let entry = slot.get(token)?;
        let member = entry.member;
        Some((
            member,
            self.members[member].single(),
            Slot { member, ..slot },
            entry,
        ))
    }

    /// The member that must judge `token`, and what routing found: the shared cache
    /// looked up once; on a miss, the shape read (only when some member introspects) and
    /// `iss` peeked to choose the member, whose pipeline then routes the token on.
    pub(super) fn route<'v, 't>(
        &'v self,
        token: &'t str,
    ) -> Result<(usize, &'v Issuer, Routed<'v, 't>), Error> {
        // Bounded like any token before it is hashed or decoded.
        if token.len() > self.max_token_bytes {
            return Err(refused(
                None,
                Seen::default(),
                InvalidToken::TooLarge.into(),
            ));
        }
        let slot = self
            .token_cache
            .as_ref()
            .map(|cache| Slot::new(cache, 0, token.as_bytes()));
        if let Some(slot) = slot {
            if let Some(entry) = slot.get(token.as_bytes()) {
                // Only verified JWTs are cached: never one to introspect.
                let member = entry.member;
                let issuer = self.members[member].single();
                return Ok((
                    member,
                    issuer,
                    issuer.recall(token, Slot { member, ..slot }, entry)?,
                ));
            }
        }
        // The shape is read once, and only when some member introspects.
        let jws_shaped = self.introspecting.map(|_| is_jws_shaped(token));
        let member = match (self.introspecting, jws_shaped) {
            (Some(member), Some(false)) => member,
            _ => {
                let iss = crate::verify::peek_issuer(token)
                    .map_err(|error| refused(None, Seen::default(), error.into()))?;
                match self.index.get(&*iss) {
                    Some(member) => *member,
                    None => match self.template_fitting(&iss) {
                        Some(member) => member,
                        None => return Err(self.unknown_issuer(&iss)),
                    },
                }
            }
        };
        let issuer = self.members[member].single();
        let slot = slot.map(|slot| Slot { member, ..slot });
        let route = issuer.route_chosen(token, slot, jws_shaped)?;
        Ok((member, issuer, Routed::Route(route)))
    }

    /// The first member whose issuer template `iss` fits (routing only: that member
    /// then checks `iss` against its template filled with the token's `tid`).
    fn template_fitting(&self, iss: &str) -> Option<usize> {
        self.templates.iter().copied().find(|&member| {
            self.members[member]
                .single()
                .policy
                .issuer_template
                .as_ref()
                .is_some_and(|template| template.fits(iss))
        })
    }

    /// A token naming none of the issuers: logged with the issuers expected and the
    /// `iss` found (cut, quoted: it is the sender's), refused without any network call.
    fn unknown_issuer(&self, iss: &str) -> Error {
        let found: String = iss.chars().take(128).collect();
        tracing::debug!(
            check = InvalidToken::WrongIssuer.as_str(),
            expected = ?self.members.iter().map(Validator::issuer).collect::<Vec<_>>(),
            found = ?found,
            "token rejected"
        );
        InvalidToken::WrongIssuer.into()
    }
}
