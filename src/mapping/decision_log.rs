//! One audit line per login: who (IdP + NameID), as whom (operator id), which rule, which
//! access group. The gateway calls [`audit`] after a successful mapping and
//! [`audit_refusal`] after a refused one.
//!
//! Values are written with Rust's string escaping (`"..."` with `\"`, `\n`, ...), so an
//! attribute value can never forge a second log line or a fake `key=value` pair.

use super::operator::Mapped;
use super::refusal::MappingRefusal;
use crate::saml::assertion::Claims;

/// `mapping outcome=mapped idp="..." name_id="..." operator="..." rule="rule #2 \"admins\" (line 14)" access_group="..." overage=false`
pub fn audit_line(mapped: &Mapped) -> String {
    let op = &mapped.operator;
    format!(
        "mapping outcome=mapped idp={:?} name_id={:?} operator={:?} rule={:?} access_group={:?} overage={}",
        op.idp,
        op.name_id,
        op.id,
        mapped.matched_rule.to_string(),
        op.access_group,
        mapped.overage
    )
}

/// `mapping outcome=refused idp="..." name_id="..." reason=denied detail="..."`
pub fn audit_refusal_line(claims: &Claims, refusal: &MappingRefusal) -> String {
    format!(
        "mapping outcome=refused idp={:?} name_id={:?} reason={} overage={} detail={:?}",
        claims.idp_entity_id,
        claims.name_id.value,
        refusal.kind(),
        refusal.is_overage(),
        refusal.to_string()
    )
}

/// Emits the audit event for a mapped login (target `samlgate::audit`), with structured
/// fields for JSON logs. Overage is logged at WARN: the admin should fix the IdP.
pub fn audit(mapped: &Mapped) {
    let op = &mapped.operator;
    let rule = mapped.matched_rule.to_string();
    if mapped.overage {
        tracing::warn!(
            target: "samlgate::audit",
            idp = %op.idp,
            name_id = %op.name_id,
            operator = %op.id,
            rule = %rule,
            access_group = %op.access_group,
            overage = true,
            "login mapped with Entra ID groups overage: rules skipped, default access group applied"
        );
    } else {
        tracing::info!(
            target: "samlgate::audit",
            idp = %op.idp,
            name_id = %op.name_id,
            operator = %op.id,
            rule = %rule,
            access_group = %op.access_group,
            overage = false,
            "login mapped"
        );
    }
}

/// Emits the audit event for a refused login.
pub fn audit_refusal(claims: &Claims, refusal: &MappingRefusal) {
    tracing::warn!(
        target: "samlgate::audit",
        idp = %claims.idp_entity_id,
        name_id = %claims.name_id.value,
        reason = refusal.kind(),
        overage = refusal.is_overage(),
        detail = %refusal,
        "login refused by the mapping table"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::operator::{MatchedRule, Operator};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured(f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn mapped(overage: bool) -> Mapped {
        Mapped {
            operator: Operator {
                id: "jose".into(),
                email: None,
                name: None,
                department: None,
                access_group: "MyOrg:Administrators".into(),
                groups: vec!["Admins".into()],
                extra: Vec::new(),
                idp: "https://idp.example.com".into(),
                name_id: "jose@example.com".into(),
            },
            matched_rule: MatchedRule::Rule {
                index: 2,
                name: Some("admins".into()),
                line: 14,
            },
            overage,
        }
    }

    #[test]
    fn audit_event_carries_idp_name_id_rule_and_access_group() {
        let out = captured(|| audit(&mapped(false)));
        let event: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["target"], "samlgate::audit");
        let fields = &event["fields"];
        assert_eq!(fields["idp"], "https://idp.example.com");
        assert_eq!(fields["name_id"], "jose@example.com");
        assert_eq!(fields["operator"], "jose");
        assert_eq!(fields["rule"], "rule #2 \"admins\" (line 14)");
        assert_eq!(fields["access_group"], "MyOrg:Administrators");
        assert_eq!(fields["overage"], false);
    }

    #[test]
    fn overage_is_audited_as_a_warning() {
        let out = captured(|| audit(&mapped(true)));
        let event: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["fields"]["overage"], true);
    }

    #[test]
    fn refusal_event_names_the_reason() {
        let claims = Claims {
            idp_entity_id: "https://idp.example.com".into(),
            name_id: crate::saml::assertion::NameId {
                value: "jose".into(),
                format: None,
                name_qualifier: None,
                sp_name_qualifier: None,
            },
            attributes: Vec::new(),
        };
        let out = captured(|| audit_refusal(&claims, &MappingRefusal::Denied));
        let event: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["fields"]["reason"], "denied");
        assert_eq!(event["fields"]["name_id"], "jose");
    }
}
