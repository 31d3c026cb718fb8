//! A verified token's claims as the mapping table's attributes: every top-level claim that is a
//! string, a number, a boolean or a list of those becomes an attribute of that name (`sub`,
//! `client_id`, `groups`, `roles`, `email`...), `scope` split on spaces; the NameID is `sub`
//! and the "IdP" the issuer. So one table format maps SAML logins and API clients, and
//! `[operator] id = "NameID"` (the default) makes `sub` the operator.

use serde_json::{Map, Value};

use crate::mapping::{Claims, NameId, SamlAttribute};

/// The scopes a token grants: `scope` (a space-separated string, RFC 9068 / RFC 8693) and
/// `scp` (a list or a string, as Okta and Entra ID send it), without repeats.
pub fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        let values: Vec<&str> = match claims.get(name) {
            Some(Value::String(s)) => s.split(' ').collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for v in values {
            if !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_owned());
            }
        }
    }
    out
}

/// One claim's values as attribute values, if it has any a table could compare.
fn values(name: &str, value: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::String(s) if name == "scope" => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// The mapping's input for a verified token's `claims`, from `issuer`, of `subject`.
pub fn to_mapping_claims(issuer: &str, subject: &str, claims: &Map<String, Value>) -> Claims {
    let attributes = claims
        .iter()
        .filter_map(|(name, value)| {
            let values = values(name, value);
            (!values.is_empty()).then(|| SamlAttribute {
                name: name.clone(),
                name_format: None,
                friendly_name: None,
                values,
            })
        })
        .collect();
    Claims {
        idp_entity_id: issuer.to_owned(),
        name_id: NameId {
            value: subject.to_owned(),
            format: None,
            name_qualifier: None,
            sp_name_qualifier: None,
        },
        attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_and_scp_are_both_read() {
        let claims = json!({"scope": "orders.read  orders.write", "scp": ["orders.read", "admin"]});
        assert_eq!(
            scopes_of(claims.as_object().unwrap()),
            ["orders.read", "orders.write", "admin"]
        );
    }

    #[test]
    fn claims_become_attributes_and_sub_the_name_id() {
        let claims = json!({
            "sub": "alice", "client_id": "svc", "scope": "a b", "groups": ["G1", "G2"],
            "roles": "reader", "email_verified": true, "cnf": {"x5t#S256": "x"}
        });
        let c = to_mapping_claims("https://as.example", "alice", claims.as_object().unwrap());
        assert_eq!(c.name_id.value, "alice");
        assert_eq!(c.idp_entity_id, "https://as.example");
        assert_eq!(c.values("scope").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.values("groups").collect::<Vec<_>>(), ["G1", "G2"]);
        assert_eq!(c.values("client_id").collect::<Vec<_>>(), ["svc"]);
        assert_eq!(c.values("email_verified").collect::<Vec<_>>(), ["true"]);
        assert_eq!(c.values("cnf").count(), 0);
    }
}
